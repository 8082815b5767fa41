// Module shapes of the test-only imports Vite gives: `?raw` is the file's text.
declare module '*?raw' {
  const text: string;
  export default text;
}
