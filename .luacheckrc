std = "lua54"
max_line_length = 120
files["spec/**/*.lua"] = { std = "+busted" }
files["bin/isol"] = { std = "lua54" }
exclude_files = { "build/**", "build-asan/**" }
