import { createRoute } from 'honox/factory';

export default createRoute((c) => {
  const id = Number(c.req.param('id'));
  if (!Number.isInteger(id)) return c.json({ error: 'bad id' }, 400);
  return c.json({ id, title: `Post ${id}` });
});
