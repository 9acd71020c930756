// Plays one vodpipe title in real browser players and reports what they saw.
//
//   node scripts/browser/play.mjs <title-dir>
//
// Serves <title-dir> and the player libraries (npm's hls.js, dashjs, shaka-player, pinned
// in package.json beside this file) on 127.0.0.1, drives Debian's /usr/bin/chromium
// headless through playwright-core, and runs four sessions one after the other: hls.js on
// master.m3u8, dash.js on manifest.mpd, Shaka on master.m3u8, Shaka on manifest.mpd. Each
// session loads, plays, seeks to 10%, 50% and 90% of the duration (checking that
// playback moves on after each), switches to every audio track, asks for thumbnails
// where the player has an API for them, and plays to the end. Everything goes into one
// JSON document on stdout, one entry per session, with the player's error events and the
// console's errors.
//
// The harness judges nothing: worker/tests/browser_playback.rs does. The exit status is 0
// whenever the harness itself ran, even if every player failed; non-zero (with the reason
// on stderr) only when it could not run at all: no chromium, no node_modules (run
// scripts/setup.sh), no title.
//
// Set-up: scripts/setup.sh installs chromium, nodejs, npm and runs `npm ci` here.
// playwright-core stays at 1.61.1, the last release that runs on Debian 12's Node 18
// (1.62 and later refuse to start: "Playwright requires Node.js 20 or higher"). It only
// speaks CDP to the browser, so Debian's newer Chromium is no problem.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
// Per session, so that a player that wedges cannot hold the whole run.
const SESSION_TIMEOUT_MS = 45_000;
// Chromium's first start on a cold machine (profile, font cache) is the slow one.
const LAUNCH_TIMEOUT_MS = 60_000;
// Fast enough that the 16 s fixture takes seconds, slow enough that a 2-core machine
// decoding 720p software H.264 still keeps up (a dropped frame is fine, a stall is not).
const PLAYBACK_RATE = 2;
// Where thumbnails are asked for, as fractions of the duration: inside a tile, never on
// the boundary between two, so that rounding cannot pick the neighbour.
const THUMBNAIL_POINTS = [0.15, 0.55, 0.85];
const SEEK_POINTS = [0.1, 0.5, 0.9];

// Each library's browser build, served under /lib/.
const LIBRARIES = {
    'hls.js': { pkg: 'hls.js', file: 'dist/hls.min.js' },
    'dash.js': { pkg: 'dashjs', file: 'dist/modern/umd/dash.all.min.js' },
    shaka: { pkg: 'shaka-player', file: 'dist/shaka-player.compiled.js' },
};

const SESSIONS = [
    { name: 'hls.js/hls', player: 'hls.js', manifest: 'master.m3u8' },
    { name: 'dash.js/dash', player: 'dash.js', manifest: 'manifest.mpd' },
    { name: 'shaka/hls', player: 'shaka', manifest: 'master.m3u8' },
    { name: 'shaka/dash', player: 'shaka', manifest: 'manifest.mpd' },
];

const CONTENT_TYPES = {
    '.m3u8': 'application/vnd.apple.mpegurl',
    '.mpd': 'application/dash+xml',
    '.m4s': 'video/iso.segment',
    '.mp4': 'video/mp4',
    '.m4a': 'audio/mp4',
    '.jpg': 'image/jpeg',
    '.jpeg': 'image/jpeg',
    '.vtt': 'text/vtt; charset=utf-8',
    '.json': 'application/json',
    '.js': 'text/javascript; charset=utf-8',
    '.map': 'application/json',
    '.html': 'text/html; charset=utf-8',
};

function fail(message) {
    process.stderr.write(`play.mjs: ${message}\n`);
    process.exit(2);
}

function packageVersion(pkg) {
    const file = path.join(HERE, 'node_modules', pkg, 'package.json');
    return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

// --- HTTP ---------------------------------------------------------------------------

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` against a file of `size` bytes: [start, end]
/// inclusive, or null when it cannot be satisfied. Multi-range requests get the whole
/// file (no player here asks for them).
function parseRange(header, size) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
    if (!m || (m[1] === '' && m[2] === '')) return null;
    let start;
    let end;
    if (m[1] === '') {
        const suffix = Number(m[2]);
        if (suffix === 0) return null;
        start = Math.max(0, size - suffix);
        end = size - 1;
    } else {
        start = Number(m[1]);
        end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    }
    if (start > end || start >= size) return null;
    return [start, end];
}

function pageHtml(player) {
    const lib = LIBRARIES[player];
    // The empty icon keeps Chromium from asking for /favicon.ico (a 404 on the console).
    return `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script src="/lib/${lib.pkg}/${lib.file}"></script></head>
<body><video id="video" muted playsinline width="640" height="360"></video></body></html>
`;
}

/// Serves /title/... from the title folder, /lib/<package>/... from node_modules and
/// /page/<player> as the player's page. Every 4xx/5xx is recorded for the report.
function startServer(titleDir) {
    const roots = {
        title: path.resolve(titleDir),
        lib: path.join(HERE, 'node_modules'),
    };
    const failures = [];
    const server = http.createServer((req, res) => {
        const reply = (status, body, type = 'text/plain; charset=utf-8') => {
            if (status >= 400) failures.push({ status, method: req.method, path: req.url });
            res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
            res.end(req.method === 'HEAD' ? undefined : body);
        };
        if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
        let pathname;
        try {
            pathname = decodeURIComponent(new URL(req.url, 'http://127.0.0.1').pathname);
        } catch {
            return reply(400, 'bad path\n');
        }
        const [, top, ...rest] = pathname.split('/');
        if (top === 'page' && LIBRARIES[rest.join('/')]) {
            return reply(200, pageHtml(rest.join('/')), CONTENT_TYPES['.html']);
        }
        const root = roots[top];
        if (!root) return reply(404, 'not found\n');
        const file = path.resolve(root, rest.join('/'));
        if (file !== root && !file.startsWith(root + path.sep)) return reply(403, 'outside the served folder\n');
        let stat;
        try {
            stat = fs.statSync(file);
        } catch {
            return reply(404, 'not found\n');
        }
        if (!stat.isFile()) return reply(404, 'not a file\n');
        const headers = {
            'Content-Type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
            'Accept-Ranges': 'bytes',
            'Cache-Control': 'no-store',
        };
        let status = 200;
        let start = 0;
        let end = stat.size - 1;
        if (req.headers.range && !req.headers.range.includes(',')) {
            const range = parseRange(req.headers.range, stat.size);
            if (!range) {
                failures.push({ status: 416, method: req.method, path: req.url, range: req.headers.range });
                res.writeHead(416, { 'Content-Range': `bytes */${stat.size}`, 'Content-Length': 0 });
                return res.end();
            }
            [start, end] = range;
            status = 206;
            headers['Content-Range'] = `bytes ${start}-${end}/${stat.size}`;
        }
        headers['Content-Length'] = stat.size === 0 ? 0 : end - start + 1;
        res.writeHead(status, headers);
        if (req.method === 'HEAD' || stat.size === 0) return res.end();
        fs.createReadStream(file, { start, end }).on('error', () => res.destroy()).pipe(res);
    });
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            resolve({ server, base: `http://127.0.0.1:${port}`, failures });
        });
    });
}

// --- In the page --------------------------------------------------------------------

/// Runs inside Chromium (Playwright serialises it, so it may use nothing from this
/// module). Writes its findings into window.__report as it goes, so that a session cut
/// off by the timeout still reports how far it got.
async function sessionInPage(args) {
    const { player, manifestUrl, titleBase, rate, seekPoints, thumbnailPoints } = args;
    const report = {
        errors: [],
        steps: [],
        duration: null,
        media_duration: null,
        video_renditions: [],
        audio_tracks: [],
        playback: { start: null, seeks: [], end: null },
        audio_switches: [],
        thumbnails: { supported: false, reason: null, samples: [] },
        active_video: null,
        mse: {},
        finished: false,
    };
    window.__report = report;
    const video = document.getElementById('video');
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const step = (what) => report.steps.push({ at_ms: Math.round(performance.now()), what });
    const waitFor = async (pred, timeoutMs) => {
        const until = performance.now() + timeoutMs;
        while (performance.now() < until) {
            if (pred()) return true;
            await sleep(50);
        }
        return pred();
    };
    const toNumber = (v) => (v === null || v === undefined || v === '' || Number.isNaN(Number(v)) ? null : Number(v));
    const titlePath = (url) => (typeof url === 'string' && url.startsWith(titleBase) ? url.slice(titleBase.length) : null);
    const addError = (source, fatal, message, detail) =>
        report.errors.push({ source, fatal, message: String(message), detail: detail ?? null });

    for (const codecs of ['avc1.64001F', 'mp4a.40.2']) {
        const type = codecs.startsWith('avc') ? 'video/mp4' : 'audio/mp4';
        report.mse[codecs] = window.MediaSource ? MediaSource.isTypeSupported(`${type}; codecs="${codecs}"`) : false;
    }
    video.addEventListener('error', () => {
        const e = video.error;
        addError('video element', true, e ? `MediaError ${e.code}: ${e.message}` : 'error event without MediaError');
    });

    // One adapter per library: the same questions asked through each one's own API.
    const adapters = {
        'hls.js': async () => {
            if (!Hls.isSupported()) throw new Error('hls.js: Hls.isSupported() is false (no MSE?)');
            const hls = new Hls({ debug: false });
            let switched = null;
            hls.on(Hls.Events.ERROR, (_event, d) => {
                const url = d.frag?.url ?? d.url ?? d.context?.url ?? null;
                addError('hls.js', !!d.fatal, `${d.type}: ${d.details}${d.error ? `: ${d.error.message}` : ''}${d.reason ? ` (${d.reason})` : ''}`, url);
            });
            hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, (_event, d) => {
                switched = d.id;
            });
            const parsed = new Promise((resolve) => hls.once(Hls.Events.MANIFEST_PARSED, resolve));
            hls.attachMedia(video);
            hls.loadSource(manifestUrl);
            await parsed;
            return {
                duration: () => hls.latestLevelDetails?.totalduration ?? null,
                videoRenditions: () => hls.levels.map((l) => ({ height: l.height, width: l.width, bandwidth: l.bitrate })),
                activeVideo: () => hls.levels[hls.currentLevel]?.height ?? null,
                audioTracks: () =>
                    hls.audioTracks.map((t) => ({
                        key: t.id,
                        language: t.lang ?? null,
                        label: t.name ?? null,
                        channels: toNumber(String(t.channels ?? t.attrs?.CHANNELS ?? '').split('/')[0]),
                        default: !!t.default,
                        active: t.id === hls.audioTrack,
                    })),
                selectAudio: (t) => {
                    hls.audioTrack = t.key;
                },
                // hls.audioTrack changes at once; AUDIO_TRACK_SWITCHED says the new track's
                // playlist is loaded and its audio is what plays. For the track already
                // playing no event comes, hence the first test.
                audioActive: (t, wasActive) => hls.audioTrack === t.key && (wasActive || switched === t.key),
                seek: (time) => {
                    video.currentTime = time;
                },
                thumbnails: null,
                thumbnailsWhyNot: 'hls.js has no thumbnail API',
                destroy: () => hls.destroy(),
            };
        },
        'dash.js': async () => {
            const events = dashjs.MediaPlayer.events;
            const dash = dashjs.MediaPlayer().create();
            dash.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } });
            dash.on(events.ERROR, (e) => {
                const err = e.error ?? {};
                addError('dash.js', true, `error ${err.code ?? '?'}: ${err.message ?? JSON.stringify(e)}`, err.data ? String(err.data?.url ?? '') : null);
            });
            dash.on(events.PLAYBACK_ERROR, (e) => addError('dash.js', true, `playback error: ${e.error?.message ?? e.error ?? ''}`));
            const initialised = new Promise((resolve) => dash.on(events.STREAM_INITIALIZED, resolve));
            dash.initialize(video, manifestUrl, false);
            await initialised;
            const trackKey = (t) => `${t.id ?? ''}|${t.index ?? ''}|${t.lang ?? ''}`;
            return {
                duration: () => dash.duration(),
                videoRenditions: () =>
                    dash.getRepresentationsByType('video').map((r) => ({ height: r.height, width: r.width, bandwidth: r.bandwidth })),
                activeVideo: () => dash.getCurrentRepresentationForType('video')?.height ?? null,
                audioTracks: () => {
                    const current = dash.getCurrentTrackFor('audio');
                    return dash.getTracksFor('audio').map((t) => ({
                        key: trackKey(t),
                        language: t.lang ?? null,
                        label: t.labels?.[0]?.text ?? null,
                        channels: toNumber(t.audioChannelConfiguration?.[0]?.value),
                        // DASH says "default" with Role value="main".
                        default: (t.roles ?? []).some((r) => (r?.value ?? r) === 'main'),
                        active: !!current && trackKey(current) === trackKey(t),
                        _track: t,
                    }));
                },
                selectAudio: (t) => dash.setCurrentTrack(t._track),
                audioActive: (t) => {
                    const current = dash.getCurrentTrackFor('audio');
                    return !!current && trackKey(current) === t.key;
                },
                seek: (time) => dash.seek(time),
                thumbnails: (time) =>
                    new Promise((resolve) => {
                        dash.provideThumbnail(time, (th) =>
                            resolve(th ? { url: th.url, x: th.x, y: th.y, width: th.width, height: th.height } : null),
                        );
                    }),
                destroy: () => dash.destroy(),
            };
        },
        shaka: async () => {
            shaka.polyfill.installAll();
            if (!shaka.Player.isBrowserSupported()) throw new Error('Shaka: isBrowserSupported() is false');
            const codeNames = {};
            for (const [name, code] of Object.entries(shaka.util.Error.Code)) codeNames[code] = name;
            const sp = new shaka.Player();
            sp.addEventListener('error', (event) => {
                const e = event.detail ?? {};
                addError(
                    'shaka',
                    e.severity === shaka.util.Error.Severity.CRITICAL,
                    `error ${e.code} ${codeNames[e.code] ?? ''} (category ${e.category}, severity ${e.severity})`,
                    JSON.stringify(e.data ?? []).slice(0, 2000),
                );
            });
            await sp.attach(video);
            await sp.load(manifestUrl);
            const trackKey = (t) => `${t.language}|${t.label ?? ''}|${t.channelsCount ?? ''}|${t.codecs ?? ''}`;
            return {
                duration: () => {
                    const r = sp.seekRange();
                    return r.end - r.start;
                },
                videoRenditions: () => sp.getVideoTracks().map((t) => ({ height: t.height, width: t.width, bandwidth: t.bandwidth })),
                activeVideo: () => sp.getVideoTracks().find((t) => t.active)?.height ?? null,
                audioTracks: () =>
                    sp.getAudioTracks().map((t) => ({
                        key: trackKey(t),
                        language: t.language ?? null,
                        label: t.label ?? null,
                        channels: t.channelsCount ?? null,
                        default: !!t.primary,
                        active: !!t.active,
                        _track: t,
                    })),
                selectAudio: (t) => sp.selectAudioTrack(t._track),
                audioActive: (t) => sp.getAudioTracks().some((a) => a.active && trackKey(a) === t.key),
                seek: (time) => {
                    video.currentTime = time;
                },
                thumbnails: async (time) => {
                    const track = sp.getImageTracks()[0];
                    const th = await sp.getThumbnails(track.id, time);
                    return th ? { url: th.uris?.[0] ?? null, x: th.positionX, y: th.positionY, width: th.width, height: th.height } : null;
                },
                thumbnailsWhyNot: null,
                imageTracks: () => sp.getImageTracks().length,
                destroy: () => sp.destroy(),
            };
        },
    };

    // Playback has moved on from where it is now, with data to keep going.
    const advances = async (label, timeoutMs = 10_000) => {
        const from = video.currentTime;
        const t0 = performance.now();
        const ok = await waitFor(() => video.ended || (video.currentTime >= from + 0.4 && video.readyState >= 3), timeoutMs);
        return {
            label,
            from: Number(from.toFixed(3)),
            reached: Number(video.currentTime.toFixed(3)),
            ready_state: video.readyState,
            paused: video.paused,
            ended: video.ended,
            advanced: ok && (video.currentTime > from || video.ended),
            waited_ms: Math.round(performance.now() - t0),
        };
    };

    let a;
    try {
        step('load');
        a = await adapters[player]();
        step('loaded');
        await waitFor(() => Number.isFinite(video.duration) && video.duration > 0, 15_000);
        report.duration = toNumber(a.duration());
        report.media_duration = Number.isFinite(video.duration) ? video.duration : null;
        report.video_renditions = a.videoRenditions();
        const strip = (tracks) => tracks.map(({ _track, key, ...rest }) => rest);
        report.audio_tracks = strip(a.audioTracks());
        const duration = report.duration ?? report.media_duration;

        step('play');
        video.muted = true;
        await video.play();
        video.playbackRate = rate;
        report.playback.start = await advances('start');

        for (const point of seekPoints) {
            const target = Number((duration * point).toFixed(3));
            step(`seek ${target}`);
            const seeked = new Promise((resolve) => video.addEventListener('seeked', () => resolve(true), { once: true }));
            a.seek(target);
            const didSeek = await Promise.race([seeked, sleep(10_000).then(() => false)]);
            if (video.paused && !video.ended) await video.play().catch(() => {});
            const check = await advances(`after seek to ${target}`);
            report.playback.seeks.push({ fraction: point, target, seeked: didSeek, landed_at: check.from, ...check });

            // Mid-title: every audio track in turn, each checked to play.
            if (point === 0.5) {
                for (const t of a.audioTracks()) {
                    step(`audio ${t.key}`);
                    const wasActive = t.active;
                    a.selectAudio(t);
                    const active = await waitFor(() => a.audioActive(t, wasActive), 8_000);
                    const after = await advances(`after switching audio to ${t.label ?? t.language ?? t.key}`);
                    const now = a.audioTracks().find((x) => x.key === t.key);
                    report.audio_switches.push({
                        language: t.language,
                        label: t.label,
                        channels: t.channels,
                        was_active: wasActive,
                        active,
                        active_in_list: !!now?.active,
                        advanced: after.advanced,
                        playback: after,
                    });
                }
            }
        }

        step('to the end');
        const t0 = performance.now();
        const reached = await waitFor(() => video.ended || video.currentTime >= duration - 0.5, 20_000);
        // `ended` follows the last frame by a moment; a little grace, not a requirement.
        await waitFor(() => video.ended, 2_000);
        report.playback.end = {
            reached,
            ended: video.ended,
            current_time: Number(video.currentTime.toFixed(3)),
            duration,
            waited_ms: Math.round(performance.now() - t0),
        };
        report.active_video = a.activeVideo();

        if (a.thumbnails && (!a.imageTracks || a.imageTracks() > 0)) {
            report.thumbnails.supported = true;
            for (const point of thumbnailPoints) {
                const time = Number((duration * point).toFixed(3));
                step(`thumbnail ${time}`);
                const th = await Promise.race([a.thumbnails(time), sleep(5_000).then(() => 'timeout')]);
                if (th === 'timeout') {
                    report.thumbnails.samples.push({ time, error: 'no answer within 5 s' });
                } else if (!th) {
                    report.thumbnails.samples.push({ time, error: 'the player returned no thumbnail' });
                } else {
                    report.thumbnails.samples.push({ time, path: titlePath(th.url), ...th });
                }
            }
        } else {
            report.thumbnails.reason = a.thumbnailsWhyNot ?? 'the player found no image track in this manifest';
        }
        report.finished = true;
        step('done');
    } catch (e) {
        addError('harness', true, `session stopped: ${e?.message ?? e}`, e?.stack ?? null);
    } finally {
        try {
            await a?.destroy();
        } catch (e) {
            addError('harness', false, `destroy: ${e?.message ?? e}`);
        }
    }
    return report;
}

// --- Sessions -----------------------------------------------------------------------

async function runSession(browser, server, session) {
    const started = Date.now();
    const consoleErrors = [];
    const consoleWarnings = [];
    server.failures.length = 0;
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('console', (msg) => {
        const text = msg.text();
        if (msg.type() === 'error') consoleErrors.push(text);
        else if (msg.type() === 'warning' && consoleWarnings.length < 50) consoleWarnings.push(text);
    });
    page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.message}`));
    page.on('crash', () => consoleErrors.push('the page crashed'));

    let report;
    let timedOut = false;
    let timer;
    try {
        const run = (async () => {
            await page.goto(`${server.base}/page/${session.player}`);
            return page.evaluate(sessionInPage, {
                player: session.player,
                manifestUrl: `${server.base}/title/${session.manifest}`,
                titleBase: `${server.base}/title/`,
                rate: PLAYBACK_RATE,
                seekPoints: SEEK_POINTS,
                thumbnailPoints: THUMBNAIL_POINTS,
            });
        })();
        const deadline = new Promise((resolve) => {
            timer = setTimeout(() => resolve('timeout'), SESSION_TIMEOUT_MS);
        });
        report = await Promise.race([run, deadline]);
        run.catch(() => {}); // the page is closed below; its rejection then is expected
        if (report === 'timeout') {
            timedOut = true;
            const partial = page.evaluate(() => window.__report ?? null).catch(() => null);
            report = (await Promise.race([partial, new Promise((r) => setTimeout(() => r(null), 3_000))])) ?? { errors: [] };
            report.errors.push({ source: 'harness', fatal: true, message: `timed out after ${SESSION_TIMEOUT_MS / 1000} s`, detail: report.steps?.at(-1)?.what ?? null });
        }
    } catch (e) {
        report = { errors: [{ source: 'harness', fatal: true, message: `session failed: ${e.message}`, detail: null }] };
    } finally {
        clearTimeout(timer);
        await context.close().catch(() => {});
    }
    for (const text of consoleErrors) report.errors.push({ source: 'console', fatal: false, message: text, detail: null });
    const lib = LIBRARIES[session.player];
    return {
        session: session.name,
        player: session.player,
        library: `${lib.pkg} ${packageVersion(lib.pkg)}`,
        manifest: session.manifest,
        elapsed_ms: Date.now() - started,
        timed_out: timedOut,
        ...report,
        console_warnings: consoleWarnings,
        http_failures: [...server.failures],
    };
}

async function main() {
    const titleArg = process.argv[2];
    if (!titleArg || process.argv.length > 3) fail('usage: node scripts/browser/play.mjs <title-dir>');
    const titleDir = path.resolve(titleArg);
    for (const f of ['master.m3u8', 'manifest.mpd']) {
        if (!fs.existsSync(path.join(titleDir, f))) fail(`${titleDir} has no ${f}: not a vodpipe title folder`);
    }
    for (const lib of [...Object.values(LIBRARIES), { pkg: 'playwright-core', file: 'package.json' }]) {
        if (!fs.existsSync(path.join(HERE, 'node_modules', lib.pkg, lib.file))) {
            fail(`${lib.pkg} is not installed in scripts/browser/node_modules: run scripts/setup.sh`);
        }
    }
    if (!fs.existsSync(CHROMIUM)) fail(`${CHROMIUM} not found: run scripts/setup.sh`);

    // playwright-core is CommonJS; required here, after the check above, so that a missing
    // install reads as such instead of as an import error.
    const { chromium } = createRequire(import.meta.url)('playwright-core');
    const server = await startServer(titleDir);
    let browser;
    try {
        browser = await chromium.launch({
            executablePath: CHROMIUM,
            headless: true,
            timeout: LAUNCH_TIMEOUT_MS,
            args: ['--autoplay-policy=no-user-gesture-required', '--mute-audio'],
        });
    } catch (e) {
        server.server.close();
        fail(`cannot start ${CHROMIUM}: ${e.message.split('\n')[0]}`);
    }
    const out = {
        harness: {
            title_dir: titleDir,
            base_url: server.base,
            node: process.version,
            chromium: browser.version(),
            playwright_core: packageVersion('playwright-core'),
            playback_rate: PLAYBACK_RATE,
            session_timeout_s: SESSION_TIMEOUT_MS / 1000,
        },
        sessions: [],
    };
    for (const session of SESSIONS) {
        process.stderr.write(`play.mjs: ${session.name} on ${session.manifest}\n`);
        const result = await runSession(browser, server, session);
        process.stderr.write(`play.mjs: ${session.name}: ${result.finished ? 'finished' : 'did not finish'}, ${result.errors.length} error(s), ${(result.elapsed_ms / 1000).toFixed(1)} s\n`);
        out.sessions.push(result);
    }
    await browser.close().catch(() => {});
    server.server.closeAllConnections();
    server.server.close();
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

// Nothing may hang the caller: past every session's timeout plus the launch, give up.
const watchdog = setTimeout(
    () => {
        process.stderr.write('play.mjs: the harness itself hung; giving up\n');
        process.exit(3);
    },
    LAUNCH_TIMEOUT_MS + SESSIONS.length * (SESSION_TIMEOUT_MS + 15_000),
);
watchdog.unref();

main().catch((e) => fail(`harness error: ${e.stack ?? e}`));
