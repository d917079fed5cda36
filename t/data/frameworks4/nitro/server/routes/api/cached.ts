let calls = 0;
export default defineCachedEventHandler(() => ({ calls: ++calls }), { maxAge: 60, getKey: () => 'cached' });
