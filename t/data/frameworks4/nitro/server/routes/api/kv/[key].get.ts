export default defineEventHandler(async (event) => {
  const key = getRouterParam(event, 'key')!;
  const storage = useStorage('kv');
  return { key, value: await storage.getItem(key), keys: await storage.getKeys() };
});
