// fasttx web page: one onnxruntime-web session, images or webcam frames in, stylised frames out.
import * as ort from "./ort/ort.webgpu.min.mjs";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const CAMERA_SIDE = 480; // webcam frames are stylised at this long side, for frame rate
if (location.protocol === "file:") throw new Error("served pages only (see the message on the page)");

function status(text, kind = "") {
  $("status").textContent = text;
  $("status").className = kind;
}

const config = await (await fetch("model.json")).json();
ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
const open = (provider) => ort.InferenceSession.create(config.model, { executionProviders: [provider] });
// one provider at a time, so the page names the one that really runs (a list would fall back without a word)
let session, backend;
if (navigator.gpu && params.get("backend") !== "wasm") {
  try {
    session = await open("webgpu");
    backend = "WebGPU";
  } catch (error) {
    console.warn("WebGPU could not run the model; using WASM", error);
  }
}
if (!session) {
  session = await open("wasm");
  backend = `WASM, ${ort.env.wasm.numThreads} thread${ort.env.wasm.numThreads > 1 ? "s" : ""}`;
}
$("backend").textContent = backend;
status("ready: drop a photo or start the webcam");
$("style-name").textContent = config.style;

// a multi-style model: one slider per style, the mix normalised to sum to 1
const mix = config.styles.map((name, i) => {
  const slider = Object.assign(document.createElement("input"), { type: "range", min: 0, max: 1, step: 0.05 });
  slider.value = i === 0 ? 1 : 0;
  const label = document.createElement("label");
  label.append(name, slider);
  $("mix").append(label);
  return slider;
});

function styleWeights() {
  const raw = mix.map((s) => Number(s.value));
  const sum = raw.reduce((a, b) => a + b, 0) || 1;
  const shape = config.style_map ? [1, raw.length, 1, 1] : [raw.length]; // a map export takes a 1x1 map: one mix
  return new ort.Tensor("float32", Float32Array.from(raw, (w) => w / sum), shape);
}

function toTensor(rgba, width, height) {
  const n = width * height;
  if (config.io === "uint8") {
    const data = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = rgba[i * 4 + c];
    return new ort.Tensor("uint8", data, [1, height, width, 3]);
  }
  const data = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[c * n + i] = rgba[i * 4 + c] / 255;
  return new ort.Tensor("float32", data, [1, 3, height, width]);
}

function toRGBA(tensor, photo, width, height, strength) {
  const n = width * height;
  const out = new Uint8ClampedArray(n * 4);
  const d = tensor.data;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const styled = config.io === "uint8" ? d[i * 3 + c] : Math.round(d[c * n + i] * 255);
      out[i * 4 + c] = Math.round(strength * styled + (1 - strength) * photo[i * 4 + c]);
    }
    out[i * 4 + 3] = 255;
  }
  return out;
}

// stylise what is on the input canvas into the output canvas; resolves to the output's RGBA bytes
async function stylise() {
  const input = $("input"), output = $("output");
  const { width, height } = input;
  const photo = input.getContext("2d").getImageData(0, 0, width, height).data;
  const feeds = { image: toTensor(photo, width, height) };
  if (mix.length) feeds.style_weights = styleWeights();
  const result = await session.run(feeds);
  const rgba = toRGBA(result.stylized, photo, width, height, Number($("strength").value));
  output.width = width;
  output.height = height;
  output.getContext("2d").putImageData(new ImageData(rgba, width, height), 0, 0);
  return rgba;
}

function draw(source, width, height, maxSide) {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const input = $("input");
  input.width = Math.round(width * scale);
  input.height = Math.round(height * scale);
  input.getContext("2d").drawImage(source, 0, 0, input.width, input.height);
}

async function showImage(url) {
  const image = new Image();
  image.src = url;
  await image.decode();
  draw(image, image.naturalWidth, image.naturalHeight, Number(params.get("max") || 1024));
  const { width, height } = $("input");
  status(`stylizing ${width}x${height}…`, "busy");
  await new Promise(requestAnimationFrame); // let the busy line show before the work starts
  const start = performance.now();
  try {
    const rgba = await stylise();
    const ms = performance.now() - start;
    status(`${width}x${height} in ${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms on ${backend}`);
    return rgba;
  } catch (error) {
    status(`could not stylize this image: ${error}`, "error");
    throw error;
  }
}

$("file").addEventListener("change", (e) => e.target.files[0] && showImage(URL.createObjectURL(e.target.files[0])));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files[0]) showImage(URL.createObjectURL(e.dataTransfer.files[0]));
});

let camera = null;
// a changed dial restyles the image shown (the webcam loop picks it up by itself)
for (const dial of [$("strength"), ...mix]) dial.addEventListener("input", () => !camera && $("input").width && stylise());

async function cameraLoop(frames = Infinity) {
  const video = $("video");
  let count = 0, since = performance.now();
  while (camera && count < frames) {
    draw(video, video.videoWidth, video.videoHeight, CAMERA_SIDE);
    await stylise();
    count++;
    const seconds = (performance.now() - since) / 1000;
    $("fps").textContent = `${(count / seconds).toFixed(1)} frames/s`;
  }
  return count;
}
async function startCamera() {
  const video = $("video");
  camera = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  video.srcObject = camera;
  await video.play();
  $("camera").textContent = "Stop webcam";
}
$("camera").addEventListener("click", async () => {
  if (camera) {
    camera.getTracks().forEach((t) => t.stop());
    camera = null;
    $("camera").textContent = "Start webcam";
    return;
  }
  await startCamera();
  cameraLoop();
});

// ?show=IMAGE stylises an image of the site as if it were dropped (bench/web_page.py takes the docs' picture so)
if (params.has("show")) {
  showImage(params.get("show")).catch((error) => status(String(error), "error"));
}

// for automated checks: ?test=IMAGE stylises it (?camera=N: N webcam frames) and posts the result to /result
if (params.has("test") || params.has("camera")) {
  let report;
  try {
    if (params.has("camera")) {
      await startCamera();
      const frames = await cameraLoop(Number(params.get("camera")));
      report = { frames, width: $("input").width, height: $("input").height, fps: $("fps").textContent };
    } else {
      const rgba = await showImage(params.get("test"));
      let binary = "";
      for (let i = 0; i < rgba.length; i++) binary += String.fromCharCode(rgba[i]);
      report = { width: $("input").width, height: $("input").height, rgba: btoa(binary) };
    }
    report.backend = backend;
  } catch (error) {
    report = { error: String(error) };
  }
  await fetch("result", { method: "POST", body: JSON.stringify(report) });
}
