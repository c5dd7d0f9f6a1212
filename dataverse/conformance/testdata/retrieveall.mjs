// Reads a whole table with the dynamics-web-api npm client's retrieveAll
// (AleksandrRogov/DynamicsWebApi), the peer the pull benchmark compares
// dvsync with. Env: DWA_MODULE (file URL of dist/esm/dynamics-web-api.mjs),
// DATAVERSE_URL (service root), DVSYNC_TOKEN, COLLECTION, SELECT (comma list).
// Prints {"records": n, "ms": elapsed}.
const { DynamicsWebApi } = await import(process.env.DWA_MODULE);
const root = new URL(process.env.DATAVERSE_URL);
const token = process.env.DVSYNC_TOKEN;
const api = new DynamicsWebApi({
  serverUrl: root.origin,
  dataApi: { version: "9.2" },
  onTokenRefresh: async () => token,
});
const start = performance.now();
const res = await api.retrieveAll({
  collection: process.env.COLLECTION,
  select: process.env.SELECT.split(","),
  maxPageSize: 5000,
});
console.log(JSON.stringify({ records: res.value.length, ms: performance.now() - start }));
