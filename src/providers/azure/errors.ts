// Azure OpenAI's SDK is OpenAI's: refusals in OpenAI's error shape are what it reads (error.code, error.type).
export { errorBody } from '../openai/errors.js';
