"""How voxbill runs, under every door: work that must not wait on an event loop
(:mod:`~voxbill.serving.warm`), the heap settled before serving
(:mod:`~voxbill.serving.heap`), and the caps on stream connections shared by the HTTP
server and the SIP and Diameter listeners (:mod:`~voxbill.serving.connections`).
Imports no other voxbill package."""
