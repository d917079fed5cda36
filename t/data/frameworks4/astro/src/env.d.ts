type Runtime = import('@astrojs/cloudflare').Runtime<{ SITE_NAME: string }>;
declare namespace App {
  interface Locals extends Runtime { requestId: string }
}
