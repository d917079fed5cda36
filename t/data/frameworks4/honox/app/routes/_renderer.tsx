import { jsxRenderer } from 'hono/jsx-renderer';

export default jsxRenderer(({ children, title }, c) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <title>{(title ?? 'HonoX') + c.env.TITLE_SUFFIX}</title>
    </head>
    <body>{children}</body>
  </html>
), { stream: true });
