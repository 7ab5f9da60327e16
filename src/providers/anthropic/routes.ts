/** Anthropic's routes on tollgate: the SDK's base URL is the root; the path after the prefix is the endpoint, the body names the model. */
export const ROUTES = Object.freeze({ root: '/anthropic', prefix: '/anthropic/v1', upstreamPrefix: '/v1' });
