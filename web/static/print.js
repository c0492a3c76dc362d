// The printable permit: its print button (no inline handlers: the console's CSP forbids them).
document.querySelectorAll('[data-print]').forEach((b) =>
  b.addEventListener('click', () => window.print()));
