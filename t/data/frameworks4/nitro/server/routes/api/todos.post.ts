export default defineEventHandler(async (event) => {
  const body = await readBody<{ text?: string }>(event);
  if (!body?.text) throw createError({ statusCode: 422, statusMessage: 'text is required' });
  const storage = useStorage('cache');
  const todos = (await storage.getItem<string[]>('todos')) ?? [];
  todos.push(body.text);
  await storage.setItem('todos', todos);
  setResponseStatus(event, 201);
  return { added: body.text, count: todos.length };
});
