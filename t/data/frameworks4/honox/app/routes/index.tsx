import { createRoute } from 'honox/factory';
import { getCookie, setCookie } from 'hono/cookie';

export default createRoute((c) => {
  const name = c.req.query('name') ?? 'Hono';
  const visits = Number(getCookie(c, 'visits') ?? '0') + 1;
  setCookie(c, 'visits', String(visits), { path: '/', httpOnly: true });
  return c.render(
    <main>
      <h1>Hello, {name}!</h1>
      <p id="visits">visit {visits}</p>
    </main>,
    { title: name },
  );
});
