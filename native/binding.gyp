# Built only by `npm run build:native` (scripts/build-native.mjs), which checks pkg-config first.
# gnu++17 (node-gyp's default), not c++17: xenctrl.h needs GNU extensions outside strict ANSI.
# libxenctrl is optional: without it the addon has XenStore only and says so (hasXenctrl false).
{
  "variables": {
    "has_xenctrl%": "<!(pkg-config --exists xencontrol && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "memcoop_xen",
      "sources": ["src/addon.cc", "src/xs_errors.cc", "src/xs_handle.cc", "src/xc_handle.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags": ["<!@(pkg-config --cflags xenstore)"],
      "libraries": ["<!@(pkg-config --libs xenstore)"],
      "conditions": [
        ["has_xenctrl==1", {
          "defines": ["MEMCOOP_HAVE_XENCTRL=1"],
          "cflags": ["<!@(pkg-config --cflags xencontrol)"],
          "libraries": ["<!@(pkg-config --libs xencontrol)"]
        }]
      ]
    }
  ]
}
