import { useState, use, Suspense } from 'react';

export function Counter({ start, label }: { start: number; label: string }) {
  const [count, setCount] = useState(start);
  return <button id="counter" onClick={() => setCount(count + 1)}>{label}: {count}</button>;
}

function Quote({ quote }: { quote: Promise<string> }) {
  return <blockquote>{use(quote)}</blockquote>;
}

export function Quoted({ text }: { text: string }) {
  const quote = new Promise<string>((resolve) => setTimeout(() => resolve(text.toUpperCase()), 20));
  return <Suspense fallback={<p>loading quote</p>}><Quote quote={quote} /></Suspense>;
}
