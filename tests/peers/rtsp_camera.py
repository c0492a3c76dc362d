#!/usr/bin/python3
"""A test IP camera for the end-to-end tests: GStreamer's RTSP server (gst-rtsp-server, not
project code) serving a moving test picture as H.264 over RTSP on 127.0.0.1.

    rtsp_camera.py PORT [--user U --password P] [--width W --height H --fps F --kbps K]
                        [--gop N] [--pattern NAME] [--auth basic|digest] [--codec h264|jpeg]

Serves rtsp://127.0.0.1:PORT/cam. With --user, requests need Digest (default) or Basic credentials.
Prints "READY" once listening; runs until killed.
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--user")
    ap.add_argument("--password", default="")
    ap.add_argument("--auth", choices=["basic", "digest"], default="digest")
    ap.add_argument("--codec", choices=["h264", "jpeg"], default="h264")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--kbps", type=int, default=300)
    ap.add_argument("--gop", type=int, default=10)
    ap.add_argument("--pattern", default="ball")
    a = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    source = (
        f"videotestsrc is-live=true pattern={a.pattern} "
        f"! video/x-raw,width={a.width},height={a.height},framerate={a.fps}/1 ! clockoverlay"
    )
    if a.codec == "jpeg":
        # an old camera's MJPEG stream
        encode = "videoconvert ! video/x-raw,format=I420 ! jpegenc ! rtpjpegpay name=pay0 pt=96"
    else:
        encode = (
            f"x264enc tune=zerolatency speed-preset=ultrafast bitrate={a.kbps} "
            f"key-int-max={a.gop} ! video/x-h264,profile=baseline "
            f"! rtph264pay name=pay0 pt=96 config-interval=1"
        )
    factory.set_launch(f"( {source} ! {encode} )")
    # one pipeline for every client, like a camera's encoder
    factory.set_shared(True)
    if a.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password), token)
        if a.auth == "digest":
            # as Hikvision and Dahua cameras ask
            auth.add_digest(a.user, a.password, token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_role("viewer")
        perms.add_permission_for_role("viewer", "media.factory.access", True)
        perms.add_permission_for_role("viewer", "media.factory.construct", True)
        factory.set_permissions(perms)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print("cannot listen", file=sys.stderr)
        sys.exit(1)
    print("READY", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
