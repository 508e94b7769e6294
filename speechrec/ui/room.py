"""The room recorder: a fixed length of the room's sound, recorded raw in the browser with a countdown.

``st.audio_input`` cannot ask the browser to turn its processing off, and noise suppression is
exactly what removes a room's noise; the live recorder needs WebRTC, which some networks block.
This small component (st.components.v2, JavaScript in the page) asks getUserMedia for RAW_AUDIO,
records exactly the campaign's seconds with the Web Audio API while it counts down, and hands the
recording to Python as 16-bit WAV together with the track's settings (to tell whether it was raw).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

import streamlit as st

from speechrec.microphone import RAW_AUDIO, is_raw
from speechrec.ui.language import _

_JS = """
const RAW = Object.assign({ channelCount: 1 }, __RAW__);

function wavBase64(chunks, length, sampleRate) {
  const buffer = new ArrayBuffer(44 + 2 * length);
  const view = new DataView(buffer);
  const text = (offset, value) => { for (let i = 0; i < value.length; i++) view.setUint8(offset + i, value.charCodeAt(i)); };
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * length, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true); view.setUint32(28, 2 * sampleRate, true);
  view.setUint16(32, 2, true); view.setUint16(34, 16, true);
  text(36, "data"); view.setUint32(40, 2 * length, true);
  let offset = 44;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++, offset += 2) {
      const value = Math.max(-1, Math.min(1, chunk[i]));
      view.setInt16(offset, value < 0 ? value * 0x8000 : value * 0x7fff, true);
    }
  }
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const seconds = data.duration_s;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = data.label;
  const status = document.createElement("p");
  status.setAttribute("role", "status");
  parentElement.append(button, status);
  let stop = () => {};

  button.onclick = async () => {
    button.disabled = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: RAW, video: false });
    } catch (error) {
      status.textContent = data.texts.blocked;
      button.disabled = false;
      return;
    }
    const track = stream.getAudioTracks()[0];
    const context = new AudioContext();
    await context.resume();
    const source = context.createMediaStreamSource(stream);
    const processor = context.createScriptProcessor(4096, 1, 1);
    const needed = Math.round(seconds * context.sampleRate);
    const chunks = [];
    let collected = 0;
    const started = performance.now();
    const tick = () => {
      const left = Math.max(0, Math.ceil(seconds - (performance.now() - started) / 1000));
      status.textContent = data.texts.left.replace("{seconds}", left);
    };
    tick();
    const timer = setInterval(tick, 250);
    stop = () => {
      clearInterval(timer);
      processor.onaudioprocess = null;
      processor.disconnect();
      source.disconnect();
      stream.getTracks().forEach((each) => each.stop());
      context.close();
    };
    processor.onaudioprocess = (event) => {
      const input = event.inputBuffer.getChannelData(0);
      const count = Math.min(input.length, needed - collected);
      chunks.push(input.slice(0, count));
      collected += count;
      if (collected >= needed) {
        const settings = track.getSettings();
        stop();
        status.textContent = data.texts.checking;
        setTriggerValue("recording", { wav: wavBase64(chunks, collected, context.sampleRate), settings: settings });
      }
    };
    source.connect(processor);
    processor.connect(context.destination);
  };
  return () => stop();
}
""".replace("__RAW__", json.dumps(RAW_AUDIO))
_CSS = """
button {
  font: inherit; padding: 0.5rem 1rem; border-radius: 0.5rem; border: none; cursor: pointer;
  background: var(--st-primary-color); color: white;
}
button:disabled { opacity: 0.6; cursor: default; }
p { font-family: var(--st-font); color: var(--st-text-color); }
"""
_component = st.components.v2.component("speechrec_room_recorder", js=_JS, css=_CSS)


@dataclass(frozen=True)
class RoomRecording:
    """A finished room recording: WAV bytes, and whether the browser's processing was off (``is_raw``)."""

    wav: bytes
    raw: bool


def room_recorder_ui(duration_s: float, key: str) -> RoomRecording | None:
    """The record button with its countdown; the recording in the run right after it finished, else None."""
    texts = {
        "blocked": _("The microphone could not be opened: allow it for this site, then press the button again."),
        "left": _("Recording the room… {seconds} s left. Please stay quiet."),
        "checking": _("Checking the recording…"),
    }
    result = _component(
        key=key,
        data={
            "duration_s": duration_s,
            "label": "🎙️ " + _("Record the room ({seconds} s)").format(seconds=f"{duration_s:g}"),
            "texts": texts,
        },
        on_recording_change=lambda: None,
    )
    value = getattr(result, "recording", None)
    if not isinstance(value, dict) or not isinstance(value.get("wav"), str):
        return None
    try:
        wav = base64.b64decode(value["wav"], validate=True)
    except (binascii.Error, ValueError):
        wav = b""  # decoding it then says the recording cannot be read
    settings = value.get("settings")
    return RoomRecording(wav=wav, raw=is_raw(settings if isinstance(settings, dict) else {}))
