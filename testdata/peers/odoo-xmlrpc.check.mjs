// Drives the reference Odoo server over XML-RPC (/xmlrpc/2/common and
// /xmlrpc/2/object) with odoo-await, a widely used npm client. Prints one
// line per operation and exits non-zero on the first mismatch.
import OdooAwait from 'odoo-await';

const url = new URL(process.env.ODOO_URL ?? 'http://127.0.0.1:8069/');
const key = process.env.ODOO_API_KEY ?? 'admin';
const db = 'dvsync';
const stamp = `${process.pid}-${Date.now()}`;

let failures = 0;
function report(op, ok, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} xmlrpc ${op}: ${detail}`);
  if (!ok) failures++;
}
async function step(op, fn) {
  try {
    const [ok, detail] = await fn();
    report(op, ok, detail);
  } catch (err) {
    report(op, false, `unexpected error: ${err?.faultString ?? err?.message ?? err}`);
  }
}
const client = (password) => new OdooAwait({ baseUrl: `${url.protocol}//${url.hostname}`, port: Number(url.port), db, username: 'admin', password });

const odoo = client(key);
let companyId, contactId;

await step('authenticate', async () => {
  const uid = await odoo.connect();
  return [uid === 2, `uid=${uid}`];
});

await step('authenticate with a wrong key', async () => {
  try {
    await client('not-the-key').connect();
    return [false, 'was accepted'];
  } catch (err) {
    return [typeof err === 'string' && err.includes('invalid credentials'), 'refused (authenticate returned false)'];
  }
});

await step('create', async () => {
  companyId = await odoo.create('res.partner', { name: `Peer Check XMLRPC ${stamp}`, is_company: true, email: 'xmlrpc@peer.example' });
  contactId = await odoo.create('res.partner', { name: `Ana "O'Brien" ${stamp}`, parent_id: companyId });
  return [Number.isInteger(companyId) && Number.isInteger(contactId) && contactId > companyId, `ids ${companyId}, ${contactId}`];
});

await step('search_read with a domain', async () => {
  const rows = await odoo.searchRead('res.partner',
    ['|', ['name', '=like', `Peer Check XMLRPC ${stamp}`], ['parent_id.name', '=', `Peer Check XMLRPC ${stamp}`]],
    ['name', 'parent_id', 'is_company'], { order: 'id asc' });
  const ok = rows.length === 2 && rows[0].id === companyId && rows[0].parent_id === false
    && Array.isArray(rows[1].parent_id) && rows[1].parent_id[0] === companyId
    && rows[1].parent_id[1] === `Peer Check XMLRPC ${stamp}` && rows[0].is_company === true;
  return [ok, `${rows.length} rows, contact parent_id=${JSON.stringify(rows[1]?.parent_id)}`];
});

await step('read', async () => {
  const [row] = await odoo.read('res.partner', contactId, ['name', 'display_name', 'phone', 'commercial_partner_id']);
  const ok = row.id === contactId && row.name === `Ana "O'Brien" ${stamp}` && row.phone === false
    && row.display_name === `Peer Check XMLRPC ${stamp}, Ana "O'Brien" ${stamp}`
    && row.commercial_partner_id[0] === companyId;
  return [ok, `display_name=${JSON.stringify(row.display_name)} phone=${row.phone}`];
});

await step('write', async () => {
  const done = await odoo.update('res.partner', contactId, { phone: '+32 2 555 01 02', email: 'ana@peer.example' });
  const [row] = await odoo.read('res.partner', contactId, ['phone', 'email']);
  return [done === true && row.phone === '+32 2 555 01 02' && row.email === 'ana@peer.example', `write=${done} phone=${row.phone}`];
});

await step('fields_get', async () => {
  const fields = await odoo.getFields('res.partner', ['type', 'relation']);
  return [fields.parent_id?.type === 'many2one' && fields.parent_id?.relation === 'res.partner', `parent_id=${JSON.stringify(fields.parent_id)}`];
});

await step('access error', async () => {
  try {
    await odoo.searchRead('res.users.apikeys', [], ['name']);
    return [false, 'read of res.users.apikeys was allowed'];
  } catch (err) {
    return [err.faultCode === 4 && /not allowed/.test(err.faultString), `fault ${err.faultCode}: ${String(err.faultString).split('\n')[0]}`];
  }
});

await step('missing record', async () => {
  try {
    await odoo.read('res.partner', 987654321, ['name']);
    return [false, 'read of a missing record succeeded'];
  } catch (err) {
    return [err.faultCode === 2 && /does not exist/.test(err.faultString), `fault ${err.faultCode}: ${String(err.faultString).split('\n')[0]}`];
  }
});

await step('helpdesk tickets (seed)', async () => {
  const rows = await odoo.searchRead('helpdesk.ticket', [['priority', '=', '3']], ['name', 'priority', 'stage_id', 'tag_ids'], { limit: 5, order: 'id asc' });
  if (rows.length === 0) return [true, 'no seeded tickets on this server'];
  const ok = rows.every((r) => r.priority === '3' && Array.isArray(r.stage_id) && Array.isArray(r.tag_ids));
  return [ok, `${rows.length} urgent tickets, first stage=${JSON.stringify(rows[0].stage_id)}`];
});

process.exit(failures === 0 ? 0 : 1);
