import type { ErrorHandler } from 'hono';

const handler: ErrorHandler = (e, c) => {
  c.status(500);
  return c.render(<h1>Error: {e.message}</h1>, { title: 'Error' });
};

export default handler;
