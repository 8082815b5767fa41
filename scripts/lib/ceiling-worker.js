// The ceiling of a request that carries a body, for bench-serve: a Worker that reads the body and answers a small
// JSON, and answers a GET as small. Whatever keeps its POST below its GET is the runtime's and the proxy's cost of
// carrying and reading a body, which no Worker can avoid: labelwatch's predict cannot beat it.
export default {
  async fetch(request) {
    if (request.method === 'POST') return Response.json({ bytes: (await request.text()).length });
    return Response.json({ live: true });
  },
};
