/** OpenAI's routes on tollgate: the SDK's base URL is the prefix; the path after it is the endpoint, the body names the model. */
export const ROUTES = Object.freeze({ root: '/openai', prefix: '/openai/v1', upstreamPrefix: '/v1' });
