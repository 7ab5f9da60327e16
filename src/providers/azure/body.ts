// Azure OpenAI takes OpenAI's request bodies as they are (https://learn.microsoft.com/azure/ai-foundry/openai/reference).
export { ENDPOINTS, clampOutput, isBilled, isStream, prepareBody, readBody } from '../openai/body.js';
