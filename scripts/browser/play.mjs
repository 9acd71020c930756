// Plays one vodpipe title in real browser players and reports what they saw.
//
//   node scripts/browser/play.mjs <title-dir> [--cue-times 1.5,4.1,11.0]
//
// Serves <title-dir> and the player libraries (npm's hls.js, dashjs, shaka-player, pinned
// in package.json beside this file) on 127.0.0.1, drives Debian's /usr/bin/chromium
// headless through playwright-core, and runs four sessions one after the other: hls.js on
// master.m3u8, dash.js on manifest.mpd, Shaka on master.m3u8, Shaka on manifest.mpd. Each
// session loads, plays, seeks to 10%, 50% and 90% of the duration (checking that
// playback moves on after each), switches to every audio track, asks for thumbnails
// where the player has an API for them, and plays to the end. Then it lists the subtitle
// tracks the player offers and, for each, selects it, has it shown, and at every time of
// --cue-times (seconds of the title; none by default) pauses there and records the cue
// text the page has active. Everything goes into one JSON document on stdout, one entry
// per session, with the player's error events and the console's errors.
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
// A paused player adds cues a little after the seek (it fetches the subtitle segment, or
// dash.js refreshes its window of cues around the playhead): the page's active cues count
// once they have stayed the same this long, or at the latest after TEXT_PROBE_MAX_MS.
const TEXT_SETTLE_MS = 600;
const TEXT_PROBE_MAX_MS = 4_000;

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
    const { player, manifestUrl, titleBase, rate, seekPoints, thumbnailPoints, cueTimes, textSettleMs, textProbeMaxMs } = args;
    const report = {
        errors: [],
        steps: [],
        duration: null,
        media_duration: null,
        // Where the element's buffered media begins once playing: the title's first frame
        // on the clock that cue times are read against.
        media_start: null,
        video_renditions: [],
        audio_tracks: [],
        playback: { start: null, seeks: [], end: null },
        audio_switches: [],
        thumbnails: { supported: false, reason: null, samples: [] },
        // The subtitle tracks as the player lists them at load, then per track what the
        // page showed at each probe time once it was selected.
        text_tracks: [],
        text_switches: [],
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
    // A cue's text as shown: markup (<i>, <c.x>, <v Name>) gone, entities decoded.
    const cueText = (cue) => {
        let text = null;
        try {
            text = cue.getCueAsHTML?.()?.textContent ?? null;
        } catch {
            text = null;
        }
        if (text === null) text = String(cue.text ?? '').replace(/<[^>]*>/g, '');
        return text.trim();
    };
    const showingTracks = () => Array.from(video.textTracks).filter((x) => x.mode === 'showing');
    const describeTrack = (x) => ({ kind: x.kind, label: x.label, language: x.language, mode: x.mode });
    // Per page track: its active cues, and its cues that span currentTime.
    const textState = () => {
        const now = video.currentTime;
        const of = (x) => ({
            ...describeTrack(x),
            loaded: x.cues?.length ?? 0,
            active: Array.from(x.activeCues ?? []).map(cueText),
            spanning: Array.from(x.cues ?? [])
                .filter((c) => c.startTime <= now && now < c.endTime)
                .map(cueText),
        });
        const all = Array.from(video.textTracks);
        return { showing: all.filter((x) => x.mode === 'showing').map(of), others: all.filter((x) => x.mode !== 'showing').map(of) };
    };

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
            let subtitlesLoaded = null;
            hls.on(Hls.Events.ERROR, (_event, d) => {
                const url = d.frag?.url ?? d.url ?? d.context?.url ?? null;
                addError('hls.js', !!d.fatal, `${d.type}: ${d.details}${d.error ? `: ${d.error.message}` : ''}${d.reason ? ` (${d.reason})` : ''}`, url);
            });
            hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, (_event, d) => {
                switched = d.id;
            });
            hls.on(Hls.Events.SUBTITLE_TRACK_LOADED, (_event, d) => {
                subtitlesLoaded = d.id;
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
                textTracks: () =>
                    hls.subtitleTracks.map((t) => ({
                        key: t.id,
                        language: t.lang ?? null,
                        label: t.name ?? null,
                        kind: String(t.type ?? '').toLowerCase() || null,
                        default: !!t.default,
                        active: t.id === hls.subtitleTrack,
                    })),
                // hls.js only puts cues on the page's track when subtitleDisplay is on (it
                // then sets the track's mode to showing); subtitleTrack starts the loading.
                selectText: (t) => {
                    hls.subtitleDisplay = true;
                    hls.subtitleTrack = t.key;
                },
                textActive: (t) => hls.subtitleTrack === t.key && subtitlesLoaded === t.key,
                destroy: () => hls.destroy(),
            };
        },
        'dash.js': async () => {
            const events = dashjs.MediaPlayer.events;
            const dash = dashjs.MediaPlayer().create();
            const trackKey = (t) => `${t.id ?? ''}|${t.index ?? ''}|${t.lang ?? ''}`;
            dash.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } });
            dash.on(events.ERROR, (e) => {
                const err = e.error ?? {};
                addError('dash.js', true, `error ${err.code ?? '?'}: ${err.message ?? JSON.stringify(e)}`, err.data ? String(err.data?.url ?? '') : null);
            });
            dash.on(events.PLAYBACK_ERROR, (e) => addError('dash.js', true, `playback error: ${e.error?.message ?? e.error ?? ''}`));
            // setTextTrack() takes an index into this list (the page's tracks, in manifest
            // order), not a MediaInfo.
            let textInfos = [];
            dash.on(events.TEXT_TRACKS_ADDED, (e) => {
                textInfos = e.tracks ?? [];
            });
            // The text track whose file came in last. A seek while the newly selected
            // track's file is still on its way loses its cues for good (dash.js 5.2.1), so
            // a switch counts as done only once the file is here.
            let textLoaded = null;
            dash.on(events.FRAGMENT_LOADING_COMPLETED, (e) => {
                const info = e.request?.representation?.mediaInfo;
                if (e.request?.mediaType === 'text' && info && !e.error) textLoaded = trackKey(info);
            });
            const initialised = new Promise((resolve) => dash.on(events.STREAM_INITIALIZED, resolve));
            dash.initialize(video, manifestUrl, false);
            await initialised;
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
                textTracks: () => {
                    const current = dash.isTextEnabled() ? dash.getCurrentTrackFor('text') : null;
                    return dash.getTracksFor('text').map((t) => {
                        const info = textInfos.find((x) => x.index === t.index && x.lang === t.lang);
                        return {
                            key: trackKey(t),
                            language: t.lang ?? null,
                            label: t.labels?.[0]?.text ?? null,
                            kind: info?.kind ?? t.roles?.[0]?.value ?? null,
                            default: (t.roles ?? []).some((r) => (r?.value ?? r) === 'main'),
                            active: !!current && trackKey(current) === trackKey(t),
                            _track: t,
                        };
                    });
                },
                selectText: (t) => {
                    const idx = textInfos.findIndex((x) => x.index === t._track.index && x.lang === t._track.lang);
                    if (idx < 0) throw new Error(`dash.js announced no page track for ${t.key} (TEXT_TRACKS_ADDED: ${textInfos.length} tracks)`);
                    dash.enableText(true);
                    dash.setTextTrack(idx);
                },
                textActive: (t) => {
                    const current = dash.getCurrentTrackFor('text');
                    return dash.isTextEnabled() && !!current && trackKey(current) === t.key && textLoaded === t.key;
                },
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
            // Subtitles on from the start, as a viewer with a preferred language has them.
            // Shaka 5.2.12 (HLS) holds back a text segment's cues until it has the media's
            // timestamp offset, which it learns only from an audio or video append: a text
            // track first chosen once the whole title is buffered (a short title, seconds
            // in) never shows a cue. Switching later is fine once text has been on.
            const firstText = sp.getTextTracks()[0];
            if (firstText) sp.selectTextTrack(firstText);
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
                textTracks: () =>
                    sp.getTextTracks().map((t) => ({
                        key: t.id,
                        language: t.language ?? null,
                        label: t.label ?? null,
                        kind: t.kind ?? null,
                        default: !!t.primary,
                        active: !!t.active,
                        _track: t,
                    })),
                // Shaka 5 shows the track it selects (setTextTrackVisibility became private);
                // Shaka 4 needs the call.
                selectText: (t) => {
                    sp.selectTextTrack(t._track);
                    sp.setTextTrackVisibility?.(true);
                },
                textActive: (t) => sp.getTextTracks().some((x) => x.active && x.id === t.key),
                destroy: () => sp.destroy(),
            };
        },
    };

    // Pauses, seeks and waits for `seeked`: whether it came.
    const seekPaused = async (time) => {
        video.pause();
        const seeked = new Promise((resolve) => video.addEventListener('seeked', () => resolve(true), { once: true }));
        a.seek(time);
        return Promise.race([seeked, sleep(8_000).then(() => false)]);
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
        report.text_tracks = strip(a.textTracks());
        const duration = report.duration ?? report.media_duration;

        step('play');
        video.muted = true;
        await video.play();
        video.playbackRate = rate;
        report.playback.start = await advances('start');
        report.media_start = video.buffered.length > 0 ? Number(video.buffered.start(0).toFixed(6)) : null;

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

        // Every subtitle track in turn, shown, and read paused at each probe time.
        for (const t of a.textTracks()) {
            step(`text ${t.key}`);
            const sw = {
                language: t.language,
                label: t.label,
                kind: t.kind,
                was_active: t.active,
                active: false,
                active_in_list: false,
                showing: [],
                shown_by_harness: false,
                samples: [],
                cues: [],
                error: null,
            };
            report.text_switches.push(sw);
            try {
                video.pause();
                a.selectText(t);
                sw.active = await waitFor(() => a.textActive(t), 8_000);
                sw.active_in_list = !!a.textTracks().find((x) => x.key === t.key)?.active;
                await waitFor(() => showingTracks().length > 0, 3_000);
                // The player should have shown it; an app would otherwise show the page's
                // track of that language itself, and so does this, saying so.
                if (showingTracks().length === 0) {
                    const own = Array.from(video.textTracks).find((x) => x.mode !== 'disabled' && x.language === t.language);
                    if (own) {
                        own.mode = 'showing';
                        sw.shown_by_harness = true;
                    }
                }
                sw.showing = showingTracks().map(describeTrack);
                for (const [n, time] of cueTimes.entries()) {
                    step(`text ${t.key} at ${time}`);
                    const didSeek = await seekPaused(time);
                    const t0 = performance.now();
                    // The first probe also waits for the track's first cues (its playlist
                    // and segments, or the whole file, loading).
                    if (n === 0) await waitFor(() => showingTracks().some((x) => (x.cues?.length ?? 0) > 0), 6_000);
                    let last = JSON.stringify(textState());
                    let since = performance.now();
                    while (performance.now() - since < textSettleMs && performance.now() - t0 < textProbeMaxMs) {
                        await sleep(50);
                        const now = JSON.stringify(textState());
                        if (now !== last) {
                            last = now;
                            since = performance.now();
                        }
                    }
                    const state = textState();
                    sw.samples.push({
                        time,
                        seeked: didSeek,
                        current_time: Number(video.currentTime.toFixed(3)),
                        paused: video.paused,
                        ready_state: video.readyState,
                        settled: performance.now() - since >= textSettleMs,
                        waited_ms: Math.round(performance.now() - t0),
                        // What the page shows: the active cues of its showing track(s).
                        cues: state.showing.flatMap((x) => x.active),
                        // The same tracks' cues whose span holds currentTime, in case the
                        // page's activeCues lags behind the cue list.
                        spanning: state.showing.flatMap((x) => x.spanning),
                        other_tracks: state.others.filter((x) => x.active.length > 0),
                    });
                }
                sw.cues = showingTracks()
                    .flatMap((x) => Array.from(x.cues ?? []))
                    .slice(0, 100)
                    .map((c) => ({ start: Number(c.startTime.toFixed(6)), end: Number(c.endTime.toFixed(6)), text: cueText(c) }));
            } catch (e) {
                sw.error = `${e?.message ?? e}`;
                addError('harness', true, `subtitles ${t.label ?? t.language ?? t.key}: ${sw.error}`, e?.stack ?? null);
            }
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

async function runSession(browser, server, session, cueTimes) {
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
                cueTimes,
                textSettleMs: TEXT_SETTLE_MS,
                textProbeMaxMs: TEXT_PROBE_MAX_MS,
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

/// The command line: the title folder and the probe times of --cue-times (or
/// --cue-times=...), seconds of the title, in the order given.
function parseArgs(argv) {
    const usage = 'usage: node scripts/browser/play.mjs <title-dir> [--cue-times 1.5,4.1,11.0]';
    let titleArg = null;
    let cueTimes = [];
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        let list = null;
        if (a === '--cue-times') {
            if (i + 1 >= argv.length) fail(`--cue-times needs a value\n${usage}`);
            list = argv[++i];
        } else if (a.startsWith('--cue-times=')) {
            list = a.slice('--cue-times='.length);
        } else if (a.startsWith('-') || titleArg !== null) {
            fail(usage);
        } else {
            titleArg = a;
        }
        if (list !== null) {
            cueTimes = list
                .split(',')
                .map((x) => x.trim())
                .filter((x) => x !== '')
                .map((x) => {
                    const v = Number(x);
                    if (!Number.isFinite(v) || v < 0) fail(`--cue-times: ${JSON.stringify(x)} is not a time in seconds`);
                    return v;
                });
        }
    }
    if (titleArg === null) fail(usage);
    return { titleArg, cueTimes };
}

async function main() {
    const { titleArg, cueTimes } = parseArgs(process.argv.slice(2));
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
            cue_times: cueTimes,
        },
        sessions: [],
    };
    for (const session of SESSIONS) {
        process.stderr.write(`play.mjs: ${session.name} on ${session.manifest}\n`);
        const result = await runSession(browser, server, session, cueTimes);
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
