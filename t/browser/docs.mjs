// Opens /docs and /redoc of a running Kairos in Debian's Chromium through
// playwright-core, as a user would, and prints one JSON line per check:
// {"name": ..., "ok": true|false, "diag": ...}. t/api/browser.t runs it.
//
// Environment: KAIROS_BASE_URL (http://127.0.0.1:PORT), KAIROS_NODE_MODULES
// (where playwright-core is installed), KAIROS_CHROMIUM (the browser binary),
// KAIROS_OUT_DIR (where screenshots go).
//
// Every request of the pages to a host other than the server is blocked and
// fails the run, so the pages are shown to work with no internet access.

import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const base = process.env.KAIROS_BASE_URL;
const nodeModules = process.env.KAIROS_NODE_MODULES;
const chromium = process.env.KAIROS_CHROMIUM || '/usr/bin/chromium';
const outDir = process.env.KAIROS_OUT_DIR || 't/out';
const TIMEOUT_MS = 20000;

// ReDoc 2.5.4 shows its logo from cdn.redoc.ly in the sidebar and removes the
// image when it fails to load. The pages' policy blocks it on purpose, so this
// one violation is expected.
const EXPECTED_VIOLATION = /Loading the image 'https:\/\/cdn\.redoc\.ly\/redoc\/logo-mini\.svg' violates/;

function report(name, ok, diag) {
    process.stdout.write(JSON.stringify({ name, ok: Boolean(ok), diag: diag ?? null }) + '\n');
}

// Runs one check; an exception fails it with the exception's message.
async function check(name, fn) {
    try {
        const result = await fn();
        report(name, result !== false, result === false ? 'condition was false' : null);
    } catch (error) {
        report(name, false, String(error && error.message ? error.message : error).split('\n')[0]);
    }
}

async function checkSwaggerUi(page) {
    await page.goto(`${base}/docs`, { waitUntil: 'load' });

    await check('Swagger UI lists the operations', async () => {
        await page.locator('.opblock').first().waitFor({ timeout: TIMEOUT_MS });
        const count = await page.locator('.opblock').count();
        if (count < 26)
            throw new Error(`${count} operations listed, expected 26`);
    });

    const ping = page.locator('#operations-health-ping_api_v1__get');
    await check('Swagger UI expands GET /api/v1/', async () => {
        await ping.locator('.opblock-summary').click({ timeout: TIMEOUT_MS });
        await ping.getByRole('button', { name: 'Try it out' }).waitFor({ timeout: TIMEOUT_MS });
    });
    await check('Swagger UI executes GET /api/v1/', async () => {
        await ping.getByRole('button', { name: 'Try it out' }).click({ timeout: TIMEOUT_MS });
        await ping.getByRole('button', { name: 'Execute' }).click({ timeout: TIMEOUT_MS });
        await ping.locator('.live-responses-table').waitFor({ timeout: TIMEOUT_MS });
    });
    await check('Swagger UI shows status 200', async () => {
        const status = ping.locator('.live-responses-table .response .response-col_status').first();
        const text = (await status.innerText({ timeout: TIMEOUT_MS })).trim();
        if (!text.startsWith('200'))
            throw new Error(`status shown: ${text}`);
    });
    await check('Swagger UI shows pong', async () => {
        const body = ping.locator('.live-responses-table .response-col_description pre').first();
        const text = await body.innerText({ timeout: TIMEOUT_MS });
        if (!text.includes('pong'))
            throw new Error(`response body shown: ${text.slice(0, 200)}`);
    });
    await checkSwaggerUiLogin(page);

    await ping.locator('.live-responses-table').scrollIntoViewIfNeeded({ timeout: TIMEOUT_MS }).catch(() => {});
    await page.screenshot({ path: path.join(outDir, 'docs.png'), fullPage: false });
}

// Logs in through the Authorize dialog (the OAuth2 password flow against
// /api/v1/auth/token) and runs GET /api/v1/users/me with the token it got.
async function checkSwaggerUiLogin(page) {
    const email = `docs-${process.pid}-${Date.now()}@example.com`;
    const password = 'correct-horse-battery';
    await check('registration for the login works', async () => {
        const response = await page.request.post(`${base}/api/v1/users/register`, {
            data: { email, name: 'Docs Rider', password },
        });
        if (response.status() !== 201)
            throw new Error(`register returned status ${response.status()}`);
    });

    await check('Swagger UI logs in with the password flow', async () => {
        await page.locator('.auth-wrapper .authorize').click({ timeout: TIMEOUT_MS });
        const dialog = page.locator('.modal-ux');
        await dialog.locator('#oauth_username').fill(email, { timeout: TIMEOUT_MS });
        await dialog.locator('#oauth_password').fill(password, { timeout: TIMEOUT_MS });
        await dialog.locator('.auth-btn-wrapper .authorize').click({ timeout: TIMEOUT_MS });
        await dialog.locator('button', { hasText: 'Logout' }).waitFor({ timeout: TIMEOUT_MS });
        await dialog.locator('.btn-done').click({ timeout: TIMEOUT_MS });
    });

    const me = page.locator('#operations-users-get_current_user_api_v1_users_me_get');
    await check('Swagger UI executes GET /api/v1/users/me with the token', async () => {
        await me.locator('.opblock-summary').click({ timeout: TIMEOUT_MS });
        await me.getByRole('button', { name: 'Try it out' }).click({ timeout: TIMEOUT_MS });
        await me.getByRole('button', { name: 'Execute' }).click({ timeout: TIMEOUT_MS });
        const status = me.locator('.live-responses-table .response .response-col_status').first();
        const text = (await status.innerText({ timeout: TIMEOUT_MS })).trim();
        if (!text.startsWith('200'))
            throw new Error(`status shown: ${text}`);
        const body = await me.locator('.live-responses-table .response-col_description pre').first().innerText();
        if (!body.includes(email))
            throw new Error(`response body shown: ${body.slice(0, 200)}`);
    });
}

async function checkRedoc(page) {
    await page.goto(`${base}/redoc`, { waitUntil: 'load' });

    for (const tag of ['health', 'auth', 'users', 'journeys', 'markers']) {
        await check(`ReDoc shows the ${tag} section`, async () => {
            await page.locator(`[data-item-id="tag/${tag}"]`).first().waitFor({ timeout: TIMEOUT_MS });
        });
    }
    await check('ReDoc shows the create journey operation', async () => {
        await page
            .locator('[data-section-id="tag/journeys/operation/create_journey_api_v1_journeys__post"]')
            .first()
            .waitFor({ state: 'attached', timeout: TIMEOUT_MS });
    });
    await check('ReDoc shows the API title', async () => {
        await page.locator('h1', { hasText: 'Kairos' }).first().waitFor({ timeout: TIMEOUT_MS });
    });

    await page.screenshot({ path: path.join(outDir, 'redoc.png'), fullPage: false });
}

async function main() {
    if (!base || !nodeModules) {
        report('environment is set', false, 'KAIROS_BASE_URL and KAIROS_NODE_MODULES are required');
        return;
    }
    const require = createRequire(path.join(path.resolve(nodeModules), 'package.json'));
    const { chromium: browserType } = require('playwright-core');
    mkdirSync(outDir, { recursive: true });

    const profile = mkdtempSync(path.join(tmpdir(), 'kairos-chromium-'));
    const context = await browserType.launchPersistentContext(profile, {
        executablePath: chromium,
        headless: true,
        args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
        ],
        viewport: { width: 1280, height: 900 },
    });

    const origin = new URL(base).origin;
    const outside = [];
    await context.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith('data:') || url.startsWith('blob:') || new URL(url).origin === origin)
            return route.continue();
        outside.push(url);
        return route.abort();
    });

    const problems = [];
    const page = await context.newPage();
    page.on('console', (message) => {
        if (message.type() === 'error')
            problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));

    try {
        await checkSwaggerUi(page);
        await checkRedoc(page);
    } finally {
        report('pages request nothing outside Kairos', outside.length === 0, outside.join(' '));
        const unexpected = problems.filter((p) => !EXPECTED_VIOLATION.test(p));
        const refused = unexpected.filter((p) => /Content Security Policy|Refused to/i.test(p));
        report('pages break no Content-Security-Policy rule', refused.length === 0, refused.join(' | '));
        report('pages log no other errors', unexpected.length === 0, unexpected.join(' | '));
        await context.close();
        rmSync(profile, { recursive: true, force: true });
    }
}

main().catch((error) => {
    report('browser run completes', false, String(error && error.stack ? error.stack : error));
    process.exitCode = 1;
});
