import { createAsync } from "@solidjs/router";
import { getGreeting } from "../lib/data";

export default function Home() {
  const data = createAsync(() => getGreeting());
  return (
    <main>
      <h1>{data()?.greeting}, {data()?.name}!</h1>
    </main>
  );
}
