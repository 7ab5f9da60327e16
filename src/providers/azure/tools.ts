// Tools are declared and called as on OpenAI.
export { requestTools, toolsFromBody } from '../openai/tools.js';
