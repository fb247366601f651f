// The Office Web Apps stand-in: WOPI discovery with the external URLs, and PowerPoint frames that echo
// the query string exactly as it arrived, so double encoding through a proxy can be checked.
import t from 'tap'
import { request } from 'undici'
import { startStandIn, type RunningStandIn } from '../src/lab/standin/index.js'

let owas: RunningStandIn

async function get (path: string, host = 'officewebapps01.contoso.com'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const res = await request(`http://127.0.0.1:${owas.sites[0]?.port}${path}`, { headers: { host } })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

t.before(async () => {
  owas = await startStandIn({
    member: 'owas01',
    role: 'owas',
    serverFqdn: 'owas01.contoso.net',
    address: '127.0.0.1',
    sites: [{ kind: 'internal', protocol: 'http', port: 0 }],
    topology: {
      sipDomain: 'contoso.com',
      frontEnd: { internalFqdn: 'pool01.contoso.net', externalFqdn: 'webext.contoso.com' },
      owas: { internalFqdn: 'owas01.contoso.net', externalFqdn: 'officewebapps01.contoso.com' },
      users: [],
    },
  })
})
t.teardown(() => owas.close())

t.test('/hosting/discovery lists PowerPoint with the external URLs', async (t) => {
  const r = await get('/hosting/discovery')
  t.equal(r.status, 200)
  t.match(r.headers['content-type'], /xml/)
  t.equal(r.headers['x-lab-member'], 'owas01')
  t.match(r.text, /^<\?xml version="1\.0" encoding="utf-8"\?><wopi-discovery>/)
  const external = /<net-zone name="external-https">(.*?)<\/net-zone>/.exec(r.text)?.[1] ?? ''
  t.match(external, /<app name="PowerPoint" [^>]*>/)
  t.match(external, /<action name="view" ext="pptx" [^>]*urlsrc="https:\/\/officewebapps01\.contoso\.com\/p\/PowerPointFrame\.aspx\?[^"]*"\/>/)
  t.notMatch(external, /owas01\.contoso\.net/, 'external zone uses only the public name')
  t.match(r.text, /<net-zone name="internal-https">.*https:\/\/owas01\.contoso\.net\/p\/PowerPointFrame\.aspx/)
})

t.test('Presenter and PowerPoint frames echo the raw query, double encoding intact', async (t) => {
  const query = 'a=0&e=true&WopiSrc=https%3A%2F%2Ffe1.contoso.net%2FDataCollabWeb%2Fwopi%2Ffiles%2F9-1-ABC&access_token=x%252Fy&fs=FULLSCREEN'
  for (const path of ['/m/Presenter.aspx', '/p/PowerPointFrame.aspx']) {
    const r = await get(`${path}?${query}`)
    t.equal(r.status, 200, path)
    t.equal(r.headers['x-lab-raw-query'], query, `${path}: header carries the query byte for byte`)
    t.match(r.text, `raw-query: ${query}\n`, `${path}: body too`)
    t.match(r.text, 'x%252Fy', 'never decoded')
    t.match(r.text, `path: ${path}\n`)
  }
})

t.test('OWAS is not a Lync server: no autodiscover, no host mapping', async (t) => {
  t.equal((await get('/', 'lyncdiscover.contoso.com')).status, 404)
  t.equal((await get('/Autodiscover/AutodiscoverService.svc/root')).status, 404)
  t.equal((await get('/abs')).status, 404)
})
