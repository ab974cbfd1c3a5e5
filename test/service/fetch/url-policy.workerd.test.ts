/**
 * The URL policy of classify by URL, host by host, and the switches: classify by URL off without FETCH_ALLOWED_HOSTS,
 * the result cache off with RESULT_CACHE=off. The fetching itself is test/service/conformance/url-cache.cases.ts.
 */
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../worker/service/problems.js';
import { checkUrl, isInternalAddress, parseAllowedHosts } from '../../../worker/service/fetch/url-policy.js';
import { appWith } from '../../runtimes/workerd/app-with.js';
import { fixture } from '../../runtimes/workerd/helpers.js';
import { classifyRequest, CRIMSON, expectProblem } from '../conformance/http.js';

const policy = parseAllowedHosts('images.example.com, *.cdn.example, 10.1.2.3, intranet');

function refusal(url: string): string | undefined {
  try {
    checkUrl(url, policy);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('url-not-allowed');
    return (error as ApiError).message;
  }
}

describe('checkUrl', () => {
  it('allows listed hosts: exact names with http or https, subdomains of a *.suffix over https', () => {
    for (const url of [
      'https://images.example.com/a.jpg',
      'http://images.example.com/a.jpg',
      'https://a.cdn.example/b.png',
      'https://x.y.cdn.example/b.png',
      'http://10.1.2.3/c.jpg',
      'http://intranet:8080/d.jpg',
    ]) {
      expect(refusal(url), url).toBeUndefined();
    }
  });

  it('refuses everything else, saying why', () => {
    expect(refusal('https://cdn.example/b.png')).toMatch(/not in FETCH_ALLOWED_HOSTS/);
    expect(refusal('http://a.cdn.example/b.png')).toMatch(/plain http/);
    expect(refusal('https://evil.example.com/a.jpg')).toMatch(/not in FETCH_ALLOWED_HOSTS/);
    expect(refusal('https://images.example.com.evil.net/a.jpg')).toMatch(/not in FETCH_ALLOWED_HOSTS/);
    expect(refusal('https://10.1.2.4/a.jpg')).toMatch(/IP literals/);
    expect(refusal('https://[fd00::1]/a.jpg')).toMatch(/IP literals/);
    expect(refusal('https://localhost.cdn.example.localhost/a.jpg')).toMatch(/loopback/);
    expect(refusal('ftp://images.example.com/a.jpg')).toMatch(/ftp: URLs/);
    expect(refusal('https://u:p@images.example.com/a.jpg')).toMatch(/credentials/);
    expect(refusal('/relative.jpg')).toMatch(/absolute/);
    expect(() => checkUrl('https://images.example.com/a.jpg', undefined)).toThrow(/off on this service/);
  });

  it('knows the internal ranges', () => {
    for (const host of ['127.0.0.1', '10.9.9.9', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254']) {
      expect(isInternalAddress(host), host).toBe(true);
    }
    for (const host of [
      '0.0.0.0',
      '100.64.0.1',
      '::1',
      '[::1]',
      'fe80::1',
      'fc00::1',
      '::ffff:10.0.0.1',
      'localhost',
    ]) {
      expect(isInternalAddress(host), host).toBe(true);
    }
    for (const host of ['8.8.8.8', '172.32.0.1', '192.169.0.1', '2606:4700::1', 'example.com']) {
      expect(isInternalAddress(host), host).toBe(false);
    }
  });
});

describe('switches', () => {
  it('without FETCH_ALLOWED_HOSTS a JSON body is 400 url-not-allowed', async () => {
    const app = appWith({ fetchAllowedHosts: undefined });
    const request = classifyRequest(JSON.stringify({ url: 'https://images.example.com/a.jpg' }), {
      contentType: 'application/json',
    });
    const problem = await expectProblem(await app(request), 400, 'url-not-allowed');
    expect(problem.detail).toMatch(/FETCH_ALLOWED_HOSTS is not set/);
  });

  it('RESULT_CACHE=off: no X-Cache, every request computed', async () => {
    const app = appWith({ resultCache: false });
    const png = await fixture(`generated/${CRIMSON.name}.png`);
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await app(classifyRequest(png, { contentType: 'image/png' }));
      expect(response.status).toBe(200);
      expect(response.headers.get('x-cache')).toBeNull();
      const body = (await response.json()) as { timing: Record<string, number> };
      expect(body.timing.inference_ms).toBeGreaterThanOrEqual(0);
    }
  });
});
