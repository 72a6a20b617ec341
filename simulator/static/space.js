// The simulator's Space page: what X's web client does for a listener, in plain JavaScript.
"use strict";
const C = window.SPACE_CONFIG;
const COLORS = ["#794bc4", "#f91880", "#00ba7c", "#ffd400", "#ff7a00"];
let headers = null, space = null, listening = false, speaking = [];

function cookie(name) {
  const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
  return m ? decodeURIComponent(m[1]) : null;
}

async function authHeaders() {
  const h = { authorization: "Bearer " + C.bearer, "x-twitter-active-user": "yes" };
  const ct0 = cookie("ct0");
  if (ct0) return { ...h, "x-csrf-token": ct0, "x-twitter-auth-type": "OAuth2Session" };
  const r = await fetch("/i/api/1.1/guest/activate.json", { method: "POST", headers: h });
  return { ...h, "x-guest-token": (await r.json()).guest_token };
}

async function api(path) {
  headers = headers || await authHeaders();
  const r = await fetch("/i/api" + path, { headers, credentials: "include" });
  if (r.status === 403 || r.status === 401) { headers = null; }
  if (!r.ok) throw new Error("HTTP " + r.status + " for " + path);
  return r.json();
}

async function loadSpace() {
  const q = new URLSearchParams({
    variables: JSON.stringify({ id: C.spaceId, isMetatagsQuery: true, withReplays: true, withListeners: true }),
    features: JSON.stringify(C.features),
  });
  const body = await api(`/graphql/${C.queryId}/AudioSpaceById?${q}`);
  return body.data.audioSpace;
}

function render() {
  const m = space.metadata;
  document.title = m.title + " / X";
  document.getElementById("title").textContent = m.title;
  const creator = m.creator_results.result.core || m.creator_results.result.legacy;
  document.getElementById("host").textContent = "Hosted by @" + creator.screen_name;
  document.body.dataset.state = m.state;
  document.body.dataset.kind = m.content_type === "visual_audio" ? "camera" : "audio";
  const status = { NotStarted: "Scheduled: starts " + new Date(m.scheduled_start).toLocaleTimeString(),
                   Running: listening ? "Listening" : "Live now", Ended: "This Space has ended" };
  document.getElementById("status").textContent = status[m.state] || m.state;
  const people = [...space.participants.admins.map(p => [p, "Host"]), ...space.participants.speakers.map(p => [p, "Speaker"])];
  const grid = document.getElementById("grid");
  grid.replaceChildren(...people.map(([p, role], i) => {
    const el = document.createElement("div");
    el.className = "speaker";
    el.dataset.user = p.twitter_screen_name;
    el.dataset.speaking = String((speaking[i] || 0) >= 8);
    el.innerHTML = `<div class="avatar" style="background:${COLORS[i % COLORS.length]}">${p.display_name[0]}</div>` +
      `<div class="name"></div><div class="role">${role}</div>`;
    el.querySelector(".name").textContent = p.display_name;
    return el;
  }));
  const canListen = m.state === "Running" && !listening;
  document.getElementById("listen").hidden = !canListen;
  document.getElementById("anonymous-label").hidden = !canListen || !cookie("ct0");
}

async function refresh() {
  document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  try { space = await loadSpace(); } catch (e) { document.body.dataset.error = String(e); return; }
  if (!space || !space.metadata) { document.body.dataset.state = "NotFound"; document.getElementById("title").textContent = "This Space does not exist"; return; }
  render();
}

// --- audio Spaces: HLS chunks -> strip ID3 -> MSE (audio/aac), following the live playlist ---
function synchsafe(b, i) { return (b[i] << 21) | (b[i + 1] << 14) | (b[i + 2] << 7) | b[i + 3]; }

function stripTags(buf) {
  const b = new Uint8Array(buf), out = new Uint8Array(b.length), levels = [];
  let i = 0, n = 0;
  while (i + 7 <= b.length) {
    if (b[i] === 0x49 && b[i + 1] === 0x44 && b[i + 2] === 0x33) {
      const size = 10 + synchsafe(b, i + 6);
      const text = new TextDecoder().decode(b.subarray(i, i + size));
      const m = text.match(/HydraAudioLevel\u0000(\[[0-9,]*\])/);
      if (m) levels.push(JSON.parse(m[1]));
      i += size;
    } else if (b[i] === 0xff && (b[i + 1] & 0xf0) === 0xf0) {
      const len = ((b[i + 3] & 3) << 11) | (b[i + 4] << 3) | (b[i + 5] >> 5);
      out.set(b.subarray(i, i + len), n); n += len; i += len;
    } else { i += 1; }  // stray bytes before the first tag
  }
  return { audio: out.subarray(0, n), levels };
}

// --- the speaking animation: X draws rings and a waveform around whoever speaks, moving with
// the sound. They are what a cast's video bitrate follows (about 1.3-1.6 Mbit/s while people
// speak, an idle trickle when nobody does), so the simulated page draws them from the audio it
// plays: a tap on the element's output (captureStream, so the sound's own path is untouched)
// feeds an analyser, and each frame draws from its samples. Silence draws nothing new.
function animate(el) {
  let analyser;
  try {
    const ctx = new AudioContext();
    analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    el.addEventListener("playing", () => {
      if (analyser.tapped) return;
      ctx.createMediaStreamSource(el.captureStream()).connect(analyser);
      analyser.tapped = true;
      ctx.resume();
    });
  } catch (e) { document.body.dataset.animation = "off: " + e; return; }
  const canvas = document.getElementById("rings"), g = canvas.getContext("2d");
  const wave = new Uint8Array(analyser.fftSize), bins = new Uint8Array(analyser.frequencyBinCount);
  let drawn = 0;
  const frame = (now) => {
    requestAnimationFrame(frame);
    // 30 frames a second, what the cast captures: the display runs at 60, and every frame
    // drawn costs the renderer and the compositor.
    if (now - drawn < 30) return;
    drawn = now;
    if (canvas.width !== innerWidth || canvas.height !== innerHeight) {
      canvas.width = innerWidth; canvas.height = innerHeight;  // a new bitmap: only on resize
    }
    g.clearRect(0, 0, canvas.width, canvas.height);
    analyser.getByteTimeDomainData(wave); analyser.getByteFrequencyData(bins);
    let energy = 0;
    for (const v of wave) energy += (v - 128) * (v - 128);
    const level = Math.min(1, Math.sqrt(energy / wave.length) / 40);
    document.body.dataset.level = level.toFixed(3);
    if (level > 0.01) {
      document.querySelectorAll(".speaker[data-speaking=true] .avatar").forEach((a) => {
        const r = a.getBoundingClientRect(), cx = r.x + r.width / 2, cy = r.y + r.height / 2;
        drawRings(g, cx, cy, r.width / 2, level, now);
        drawCircularWave(g, cx, cy, r.width / 2 + 30, wave, level);
      });
      drawSpectrum(g, bins, canvas.width, canvas.height);
    }
  };
  requestAnimationFrame(frame);
}

function drawRings(g, cx, cy, radius, level, now) {
  for (let k = 0; k < 4; k++) {
    const phase = (now / 700 + k / 4) % 1;
    g.beginPath();
    g.arc(cx, cy, radius + 8 + phase * 90 * (0.4 + level), 0, 2 * Math.PI);
    g.strokeStyle = `rgba(29,155,240,${(1 - phase) * (0.3 + 0.7 * level)})`;
    g.lineWidth = 3 + 10 * level * (1 - phase);
    g.stroke();
  }
}

function drawCircularWave(g, cx, cy, radius, wave, level) {
  g.beginPath();
  for (let i = 0; i < wave.length; i++) {
    const a = i / wave.length * 2 * Math.PI, d = radius + (wave[i] - 128) * (0.6 + 2 * level);
    i ? g.lineTo(cx + d * Math.cos(a), cy + d * Math.sin(a)) : g.moveTo(cx + d * Math.cos(a), cy + d * Math.sin(a));
  }
  g.closePath();
  g.strokeStyle = "#f91880"; g.lineWidth = 2; g.stroke();
}

function drawSpectrum(g, bins, width, height) {
  const n = 64, w = width / n;
  for (let i = 0; i < n; i++) {
    const v = bins[i * 3] / 255, h = v * height * 0.25;
    g.fillStyle = `hsl(${200 + v * 120}, 80%, ${35 + v * 30}%)`;
    g.fillRect(i * w, height - h, w - 1, h);
  }
}

async function playAudio(location) {
  const el = document.getElementById("space-audio");
  animate(el);
  const ms = new MediaSource();
  el.src = URL.createObjectURL(ms);
  await new Promise(r => ms.addEventListener("sourceopen", r, { once: true }));
  const sb = ms.addSourceBuffer("audio/aac");
  sb.mode = "sequence";
  const seen = new Set(), queue = [], timeline = [];
  let appended = 0;
  const pump = () => {
    if (sb.updating || !queue.length) return;
    const { audio, levels, dur } = queue.shift();
    timeline.push({ start: appended, dur, levels }); appended += dur;
    sb.appendBuffer(audio);
  };
  sb.addEventListener("updateend", pump);
  el.addEventListener("timeupdate", () => {
    const t = el.currentTime, c = timeline.find(x => t >= x.start && t < x.start + x.dur);
    if (c && c.levels.length) { speaking = c.levels[Math.floor((t - c.start) / c.dur * c.levels.length)] || []; render(); }
  });
  let first = true;
  while (listening && space.metadata.state === "Running") {
    const r = await fetch(location);
    if (r.ok) {
      const lines = (await r.text()).split("\n");
      const items = [];
      lines.forEach((l, k) => { if (l.startsWith("chunk")) items.push([l, parseFloat(lines[k - 1].slice(8))]); });
      for (const [uri, dur] of first ? items.slice(-2) : items) {
        if (seen.has(uri)) continue;
        seen.add(uri);
        const chunk = await fetch(new URL(uri, location));
        if (chunk.ok) { queue.push({ ...stripTags(await chunk.arrayBuffer()), dur }); pump(); }
      }
      first = false;
      if (el.paused) el.play().catch(() => {});
    }
    await new Promise(r => setTimeout(r, 1500));
  }
}

// --- camera Spaces: listeners get a player that never receives data ---
// As on X, where listeners' WebRTC audio is withheld: metadata arrives, media never does.
async function playCamera() {
  const el = document.getElementById("space-video");
  el.hidden = false;
  const ms = new MediaSource();
  el.src = URL.createObjectURL(ms);
  await new Promise(r => ms.addEventListener("sourceopen", r, { once: true }));
  const sb = ms.addSourceBuffer(C.cameraCodecs);
  sb.appendBuffer(await (await fetch("/_sim/camera-init.mp4")).arrayBuffer());
  el.play().catch(() => {});
}

// The A/V sync test pattern (the beep-and-flash way LiveKit Egress measures offset): a white
// flash and a 1 kHz beep, together, once a second. The flash follows the beep as it is heard
// (the audio clock's output timestamp), so the page itself adds no offset.
function playPattern() {
  const ctx = new AudioContext();
  const flash = document.createElement("div");
  flash.id = "flash";
  flash.style.cssText = "position:fixed;inset:0;background:#fff;display:none;z-index:10";
  document.body.appendChild(flash);
  const beeps = [];
  let next = ctx.currentTime + 1;
  const frame = () => {
    while (next < ctx.currentTime + 1.5) {
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = 1000; gain.gain.value = 0.5;
      osc.connect(gain).connect(ctx.destination);
      osc.start(next); osc.stop(next + 0.1);
      beeps.push(next); next += 1;
    }
    const ts = ctx.getOutputTimestamp();
    const heard = ts.contextTime + (performance.now() - ts.performanceTime) / 1000;
    flash.style.display = beeps.some(b => heard >= b && heard < b + 0.1) ? "block" : "none";
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

async function listen() {
  listening = true;
  render();
  const anonymous = document.getElementById("anonymous").checked || !cookie("ct0");
  await fetch(`/_sim/spaces/${C.spaceId}/join`, { method: "POST", body: JSON.stringify({ anonymous }) });
  const status = await api(`/1.1/live_video_stream/status/${space.metadata.media_key}`);
  if (C.pattern) playPattern();
  else if (document.body.dataset.kind === "camera") playCamera();
  else playAudio(status.source.noRedirectPlaybackUrl || status.source.location);
}

document.getElementById("listen").addEventListener("click", listen);
refresh();
setInterval(refresh, 5000);
