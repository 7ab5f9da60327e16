// Vertex AI answers in Google's error shape for both publishers when the platform refuses a call (a bad token, a
// quota, a model it does not serve); @anthropic-ai/vertex-sdk reads any JSON error body, so tollgate's refusals
// take Google's shape on every /vertex route.
export { errorBody } from '../gemini/errors.js';
