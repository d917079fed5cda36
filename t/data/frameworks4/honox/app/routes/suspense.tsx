import { createRoute } from 'honox/factory';
import { Suspense } from 'hono/jsx';

async function Late() {
  const value = await new Promise<string>((resolve) => setTimeout(() => resolve('late component'), 600));
  return <p id="late">{value}</p>;
}

export default createRoute((c) => c.render(
  <main>
    <p>early</p>
    <Suspense fallback={<p>suspended...</p>}><Late /></Suspense>
  </main>,
));
