import { createRoute } from 'honox/factory';

const entries: string[] = [];

export default createRoute((c) => c.render(
  <main>
    <ul>{entries.map((e) => <li>{e}</li>)}</ul>
    <form method="post"><input name="name" /><button>Sign</button></form>
  </main>,
  { title: 'Guestbook' },
));

export const POST = createRoute(async (c) => {
  const form = await c.req.parseBody();
  const name = String(form.name ?? '');
  if (!name) return c.render(<p class="error">name is required</p>, { title: 'Error' });
  entries.push(name);
  return c.redirect('/guestbook', 303);
});
