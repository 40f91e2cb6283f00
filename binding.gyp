{
  "variables": {
    "clocktower_tools%": "<!(node -p \"process.env.CLOCKTOWER_TOOLS === '0' ? 0 : 1\")"
  },
  "target_defaults": {
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")"
    ],
    "defines": [
      "NAPI_VERSION=8",
      "NODE_ADDON_API_DISABLE_DEPRECATED",
      "NODE_ADDON_API_CPP_EXCEPTIONS"
    ],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-O2"],
    "conditions": [
      ["OS==\"linux\"", {
        "defines": ["CLOCKTOWER_LINUX=1"]
      }],
      ["target_arch==\"arm\"", {
        "defines": ["_TIME_BITS=64", "_FILE_OFFSET_BITS=64"]
      }]
    ]
  },
  "targets": [
    {
      "target_name": "clocktower",
      "sources": [
        "native/addon.cc"
      ],
      "conditions": [
        ["OS==\"linux\"", {
          "sources": [
            "native/addresses.cc",
            "native/aes128.cc",
            "native/clock.cc",
            "native/interleave.cc",
            "native/layout.cc",
            "native/notify.cc",
            "native/ntp_mac.cc",
            "native/nts_aead.cc",
            "native/nts_aead_binding.cc",
            "native/nts_server.cc",
            "native/responder.cc",
            "native/timestamps.cc",
            "native/udp_endpoint.cc",
            "native/udp_endpoint_multicast.cc",
            "native/udp_endpoint_server.cc"
          ]
        }]
      ]
    }
  ],
  "conditions": [
    ["clocktower_tools==1", {
      "targets": [
        {
          "target_name": "clocktower_tools",
          "product_dir": "<(PRODUCT_DIR)/tools",
          "sources": [
            "native/tools_addon.cc",
            "native/ntp_time_binding.cc"
          ],
          "conditions": [
            ["OS==\"linux\"", {
              "sources": [
                "native/aes128.cc",
                "native/loadgen.cc",
                "native/nts_aead.cc",
                "native/timestamps.cc"
              ]
            }]
          ]
        }
      ]
    }]
  ]
}
