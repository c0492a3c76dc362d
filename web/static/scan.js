// Scan fields of plugin forms (`field-kind scan`): a camera button beside a text box. Over
// https the live picture is read until a code shows; otherwise (plain http on the plant LAN,
// or no camera permission) the phone takes a photo through a file input and the photo is
// read. The reader is ZXing-C++ as WebAssembly (`vendor/zxing-reader.js`), which loads its
// .wasm from the box, never from a CDN. The decoded text fills the box, the next field gets
// the focus, and the reader can always type or use a hand scanner instead.
(function () {
  'use strict';
  const fields = document.querySelectorAll('[data-scan]');
  if (!fields.length || !window.ZXingWASM) return;
  const script = document.querySelector('script[data-zxing-wasm]');
  ZXingWASM.prepareZXingModule({
    overrides: {
      locateFile: (path, prefix) =>
        path.endsWith('.wasm') ? script.dataset.zxingWasm : prefix + path,
    },
  });
  const options = { tryHarder: true, maxNumberOfSymbols: 1 };

  function found(results) {
    const hit = (results || []).find((r) => r.isValid && r.text);
    return hit ? hit.text : null;
  }

  function fill(box, text) {
    const input = box.querySelector('input[type=text]');
    const status = box.querySelector('[data-scan-status]');
    input.value = text;
    input.dispatchEvent(new Event('change', { bubbles: true }));
    status.textContent = box.dataset.scanRead.replace('{code}', () => text);
    status.classList.remove('warn-text');
    // the next field of the form, so scanning a row of labels needs no tapping between
    const all = Array.from(input.form ? input.form.elements : []);
    const next = all.slice(all.indexOf(input) + 1).find(
      (el) => !el.disabled && el.type !== 'hidden' && el.type !== 'file' && el.tagName !== 'BUTTON');
    (next || input).focus();
  }

  function miss(box, message) {
    const status = box.querySelector('[data-scan-status]');
    status.textContent = message;
    status.classList.add('warn-text');
  }

  async function readFile(box, file) {
    try {
      const text = found(await ZXingWASM.readBarcodes(file, options));
      if (text) fill(box, text);
      else miss(box, box.dataset.scanNone);
    } catch (e) {
      miss(box, box.dataset.scanFailed);
    }
  }

  async function live(box) {
    const video = document.createElement('video');
    video.setAttribute('playsinline', '');
    video.muted = true;
    video.className = 'scan-video';
    const stop = document.createElement('button');
    stop.type = 'button';
    stop.textContent = box.dataset.scanStop;
    const pane = document.createElement('div');
    pane.className = 'scan-live';
    pane.append(video, stop);
    box.append(pane);
    let stream;
    let done = false;
    const end = () => {
      done = true;
      if (stream) stream.getTracks().forEach((t) => t.stop());
      pane.remove();
    };
    stop.addEventListener('click', end);
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment' }, audio: false,
      });
    } catch (e) {
      end();
      return false;
    }
    video.srcObject = stream;
    await video.play();
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    while (!done) {
      if (video.videoWidth) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        ctx.drawImage(video, 0, 0);
        try {
          const text = found(await ZXingWASM.readBarcodes(
            ctx.getImageData(0, 0, canvas.width, canvas.height), options));
          if (text) {
            end();
            fill(box, text);
            return true;
          }
        } catch (e) {
          // a frame the reader could not take: try the next
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    return true;
  }

  fields.forEach((box) => {
    const file = box.querySelector('input[type=file]');
    box.querySelector('[data-scan-button]').addEventListener('click', async () => {
      const canLive = window.isSecureContext && navigator.mediaDevices
        && navigator.mediaDevices.getUserMedia;
      if (!canLive || !(await live(box))) file.click();
    });
    file.addEventListener('change', () => {
      if (file.files.length) readFile(box, file.files[0]);
      file.value = '';
    });
  });
})();
