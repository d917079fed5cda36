import { defineMiddleware } from 'astro:middleware';

export const onRequest = defineMiddleware(async (context, next) => {
  context.locals.requestId = context.request.headers.get('x-request-id') ?? 'none';
  const response = await next();
  response.headers.set('X-Powered-By-Middleware', 'astro');
  return response;
});
