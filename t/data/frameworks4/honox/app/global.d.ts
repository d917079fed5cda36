import 'hono';

declare module 'hono' {
  interface Env { Bindings: { TITLE_SUFFIX: string } }
  interface ContextRenderer {
    (content: string | Promise<string>, props?: { title?: string }): Response | Promise<Response>;
  }
}
