import { createRoute } from 'honox/factory';
import { secureHeaders } from 'hono/secure-headers';

export default createRoute(secureHeaders(), async (c, next) => {
  await next();
  c.res.headers.set('X-HonoX', 'middleware');
});
