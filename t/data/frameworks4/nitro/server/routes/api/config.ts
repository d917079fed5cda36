export default defineEventHandler((event) => {
  const config = useRuntimeConfig(event);
  return { secretLength: config.apiSecret.length, siteName: config.public.siteName, processEnv: process.env.NITRO_PUBLIC_SITE_NAME ?? null };
});
