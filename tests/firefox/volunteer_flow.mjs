// The volunteer flow in Debian's firefox-esr, driven over WebDriver BiDi by puppeteer-core
// (tests/test_firefox.py runs it inside a network namespace and checks the store afterwards).
//
//   node volunteer_flow.mjs URL MICROPHONE.wav RESULT.json
//
// Consent, the live recorder's microphone check, two live takes, a reload, the personal link in a
// fresh browser context, a take with the simple recorder there, and the raw room recording.
// Writes what it saw to RESULT.json; exits non-zero with the reason when a step fails.
//
// Firefox's own fake microphone (media.navigator.streams.fake) plays a steady tone, which is no
// word, so the page's getUserMedia is replaced before any script runs: it returns a stream that
// Web Audio makes from the WAV, looped, like Chromium's --use-file-for-fake-audio-capture. The
// recorders themselves (streamlit-webrtc's RTCPeerConnection, st.audio_input's MediaRecorder,
// the room recorder's Web Audio capture) are Firefox's own. Headless Firefox has no audio device,
// so Web Audio runs on cubeb's mock context (media.cubeb.force_mock_context).
import { readFileSync, writeFileSync } from "node:fs";
import puppeteer from "puppeteer-core";

const [url, microphonePath, resultPath] = process.argv.slice(2);
const FIREFOX = process.env.FIREFOX || "/usr/bin/firefox-esr";
const TIMEOUT_MS = 30000;
const RECORD_MS = 3500;
const started = Date.now();
const result = { steps: {}, firefox: null };
const step = (name, value = true) => {
  result.steps[name] = value;
  result[`${name}_s`] = (Date.now() - started) / 1000;
};

const fakeMicrophone = (wavBase64) => `(() => {
  let muted = false;
  const gains = [];
  async function open() {
    const context = new AudioContext();
    await context.resume();
    const bytes = Uint8Array.from(atob("${wavBase64}"), (c) => c.charCodeAt(0));
    const source = context.createBufferSource();
    source.buffer = await context.decodeAudioData(bytes.buffer);
    source.loop = true;
    const gain = context.createGain();
    gain.gain.value = muted ? 0 : 1;
    gains.push(gain);
    const destination = context.createMediaStreamDestination();
    source.connect(gain).connect(destination);
    source.start();
    return destination.stream;
  }
  if (navigator.mediaDevices) navigator.mediaDevices.getUserMedia = () => open();
  window.__fakeMicrophone = { mute() { muted = true; gains.forEach((gain) => (gain.gain.value = 0)); } };
})();`;

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: FIREFOX,
  headless: true,
  extraPrefsFirefox: {
    "media.cubeb.force_mock_context": true,
    "media.autoplay.default": 0,
    "media.autoplay.block-webaudio": false,
    // ICE on the namespace's own address, with real host candidates (no mDNS names aiortc cannot resolve).
    "media.peerconnection.ice.obfuscate_host_addresses": false,
  },
});
result.firefox = await browser.version();

const opened = [];
async function newPage(context) {
  const page = await context.newPage();
  opened.push(page);
  await page.setViewport({ width: 420, height: 900 });
  await page.evaluateOnNewDocument(fakeMicrophone(readFileSync(microphonePath).toString("base64")));
  return page;
}
const text = (page, value, timeout = TIMEOUT_MS) => page.locator(`::-p-text(${value})`).setTimeout(timeout);
const code = (page) => new URL(page.url()).searchParams.get("code");
const progress = (page) =>
  page.$$eval("[data-testid=stProgress] p, [data-testid=stProgress] div", (all) =>
    all.map((element) => element.textContent).find((value) => / \/ \d+/.test(value)) || "",
  );

// The room recorder is a Streamlit component mounted in a shadow root.
async function inShadowRoot(page, selector, content) {
  const handle = await page.waitForFunction(
    (selector, content) =>
      [...document.querySelectorAll("*")]
        .filter((element) => element.shadowRoot)
        .flatMap((element) => [...element.shadowRoot.querySelectorAll(selector)])
        .find((element) => element.textContent.includes(content)),
    { timeout: TIMEOUT_MS, polling: 100 },
    selector,
    content,
  );
  return handle.asElement();
}

async function webrtcFrame(page) {
  const handle = await page.waitForSelector('iframe[title*="webrtc"]', { timeout: TIMEOUT_MS });
  return handle.contentFrame();
}

async function passMicrophoneCheck(page) {
  for (let attempt = 0; attempt < 3; attempt++) {
    await (await webrtcFrame(page)).locator("button::-p-text(Start)").setTimeout(TIMEOUT_MS).click();
    const outcome = await Promise.race([
      text(page, "Your microphone works").wait().then(() => "works"),
      text(page, "Try the live recorder again").wait().then(() => "given up"),
    ]);
    if (outcome === "works") return;
    await text(page, "Try the live recorder again").click();
  }
  throw new Error("the live microphone check did not pass in 3 starts");
}

async function waitForProgress(page, wanted) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    const shown = await progress(page);
    if (shown.startsWith(wanted)) return shown;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the progress never showed ${wanted} (last: ${await progress(page)})`);
}

try {
  const page = await newPage(browser.defaultBrowserContext());
  await page.goto(url);
  await text(page, "I have read this and I agree").click();
  await page.locator("button::-p-text(Start)").click();
  await text(page, "Your participant code is below").wait();
  result.code = code(page);
  step("consented");
  await text(page, "Go to recording").click();

  await passMicrophoneCheck(page);
  step("microphone_check");
  result.progress_after_live = await waitForProgress(page, "2 / ");
  await (await webrtcFrame(page)).locator("button::-p-text(Stop)").click();
  step("live_takes");

  await page.reload();
  await text(page, "First, a microphone check").wait();
  result.progress_after_reload = await progress(page);
  result.code_after_reload = code(page);
  step("reloaded");

  const fresh = await browser.createBrowserContext(); // another browser: no cookie, only the link
  const other = await newPage(fresh);
  await other.goto(`${url}/?code=${result.code}`);
  await text(other, "Welcome back").wait();
  result.progress_after_link = await progress(other);
  step("resumed_by_link");
  await text(other, "Use the simple recorder").click();
  await other.locator('button[aria-label="Record"]').setTimeout(TIMEOUT_MS).click();
  await new Promise((resolve) => setTimeout(resolve, RECORD_MS));
  await other.locator('button[aria-label="Stop recording"]').click();
  await text(other, "Last step: the sound of your room").wait();
  step("simple_take");

  await other.evaluate(() => window.__fakeMicrophone.mute()); // a quiet room
  await (await inShadowRoot(other, "button", "Record the room")).click();
  step("room_started");
  await inShadowRoot(other, "p[role=status]", "s left. Please stay quiet.");
  step("countdown");
  await text(other, "All done. Thank you!").wait();
  step("room_noise");
} catch (error) {
  result.error = String(error && error.stack ? error.stack : error);
  for (const open of opened) {
    result.error += "\n--- " + open.url() + "\n" + (await open.evaluate(() => {
      const roots = [...document.querySelectorAll("*")].filter((element) => element.shadowRoot);
      return document.body.innerText.slice(-600) + "\nshadow roots: " + roots.map((element) => element.shadowRoot.innerHTML.slice(0, 300)).join(" || ");
    }).catch((e) => String(e)));
  }
} finally {
  writeFileSync(resultPath, JSON.stringify(result, null, 2));
  await browser.close();
}
process.exit(result.error ? 1 : 0);
