// Usage is reported as on OpenAI (chat streams report it when asked with stream_options.include_usage).
export { badUsage, isInjectedUsageEvent, modelFromBody, streamReader, usageFromBody } from '../openai/usage.js';
