export default defineEventHandler(async (event) => {
  const form = await readFormData(event);
  return sendRedirect(event, '/?name=' + encodeURIComponent(String(form.get('name'))), 303);
});
