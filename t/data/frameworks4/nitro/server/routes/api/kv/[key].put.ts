export default defineEventHandler(async (event) => {
  const key = getRouterParam(event, 'key')!;
  await useStorage('kv').setItem(key, await readBody(event));
  return { stored: key };
});
