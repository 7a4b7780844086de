# Too many kthreads: create `--created` threads until the kernel says ENOMEM (its thread table
# holds 256, the shell's own thread included), then stop them all (each gives -4, EINTR).
#   just script tests/scripts/kthread-enomem.rsh         -> one ENOMEM error, exits 0
spawn exit e0 --created
spawn exit e1 --created
spawn exit e2 --created
spawn exit e3 --created
spawn exit e4 --created
spawn exit e5 --created
spawn exit e6 --created
spawn exit e7 --created
spawn exit e8 --created
spawn exit e9 --created
spawn exit e10 --created
spawn exit e11 --created
spawn exit e12 --created
spawn exit e13 --created
spawn exit e14 --created
spawn exit e15 --created
spawn exit e16 --created
spawn exit e17 --created
spawn exit e18 --created
spawn exit e19 --created
spawn exit e20 --created
spawn exit e21 --created
spawn exit e22 --created
spawn exit e23 --created
spawn exit e24 --created
spawn exit e25 --created
spawn exit e26 --created
spawn exit e27 --created
spawn exit e28 --created
spawn exit e29 --created
spawn exit e30 --created
spawn exit e31 --created
spawn exit e32 --created
spawn exit e33 --created
spawn exit e34 --created
spawn exit e35 --created
spawn exit e36 --created
spawn exit e37 --created
spawn exit e38 --created
spawn exit e39 --created
spawn exit e40 --created
spawn exit e41 --created
spawn exit e42 --created
spawn exit e43 --created
spawn exit e44 --created
spawn exit e45 --created
spawn exit e46 --created
spawn exit e47 --created
spawn exit e48 --created
spawn exit e49 --created
spawn exit e50 --created
spawn exit e51 --created
spawn exit e52 --created
spawn exit e53 --created
spawn exit e54 --created
spawn exit e55 --created
spawn exit e56 --created
spawn exit e57 --created
spawn exit e58 --created
spawn exit e59 --created
spawn exit e60 --created
spawn exit e61 --created
spawn exit e62 --created
spawn exit e63 --created
spawn exit e64 --created
spawn exit e65 --created
spawn exit e66 --created
spawn exit e67 --created
spawn exit e68 --created
spawn exit e69 --created
spawn exit e70 --created
spawn exit e71 --created
spawn exit e72 --created
spawn exit e73 --created
spawn exit e74 --created
spawn exit e75 --created
spawn exit e76 --created
spawn exit e77 --created
spawn exit e78 --created
spawn exit e79 --created
spawn exit e80 --created
spawn exit e81 --created
spawn exit e82 --created
spawn exit e83 --created
spawn exit e84 --created
spawn exit e85 --created
spawn exit e86 --created
spawn exit e87 --created
spawn exit e88 --created
spawn exit e89 --created
spawn exit e90 --created
spawn exit e91 --created
spawn exit e92 --created
spawn exit e93 --created
spawn exit e94 --created
spawn exit e95 --created
spawn exit e96 --created
spawn exit e97 --created
spawn exit e98 --created
spawn exit e99 --created
spawn exit e100 --created
spawn exit e101 --created
spawn exit e102 --created
spawn exit e103 --created
spawn exit e104 --created
spawn exit e105 --created
spawn exit e106 --created
spawn exit e107 --created
spawn exit e108 --created
spawn exit e109 --created
spawn exit e110 --created
spawn exit e111 --created
spawn exit e112 --created
spawn exit e113 --created
spawn exit e114 --created
spawn exit e115 --created
spawn exit e116 --created
spawn exit e117 --created
spawn exit e118 --created
spawn exit e119 --created
spawn exit e120 --created
spawn exit e121 --created
spawn exit e122 --created
spawn exit e123 --created
spawn exit e124 --created
spawn exit e125 --created
spawn exit e126 --created
spawn exit e127 --created
spawn exit e128 --created
spawn exit e129 --created
spawn exit e130 --created
spawn exit e131 --created
spawn exit e132 --created
spawn exit e133 --created
spawn exit e134 --created
spawn exit e135 --created
spawn exit e136 --created
spawn exit e137 --created
spawn exit e138 --created
spawn exit e139 --created
spawn exit e140 --created
spawn exit e141 --created
spawn exit e142 --created
spawn exit e143 --created
spawn exit e144 --created
spawn exit e145 --created
spawn exit e146 --created
spawn exit e147 --created
spawn exit e148 --created
spawn exit e149 --created
spawn exit e150 --created
spawn exit e151 --created
spawn exit e152 --created
spawn exit e153 --created
spawn exit e154 --created
spawn exit e155 --created
spawn exit e156 --created
spawn exit e157 --created
spawn exit e158 --created
spawn exit e159 --created
spawn exit e160 --created
spawn exit e161 --created
spawn exit e162 --created
spawn exit e163 --created
spawn exit e164 --created
spawn exit e165 --created
spawn exit e166 --created
spawn exit e167 --created
spawn exit e168 --created
spawn exit e169 --created
spawn exit e170 --created
spawn exit e171 --created
spawn exit e172 --created
spawn exit e173 --created
spawn exit e174 --created
spawn exit e175 --created
spawn exit e176 --created
spawn exit e177 --created
spawn exit e178 --created
spawn exit e179 --created
spawn exit e180 --created
spawn exit e181 --created
spawn exit e182 --created
spawn exit e183 --created
spawn exit e184 --created
spawn exit e185 --created
spawn exit e186 --created
spawn exit e187 --created
spawn exit e188 --created
spawn exit e189 --created
spawn exit e190 --created
spawn exit e191 --created
spawn exit e192 --created
spawn exit e193 --created
spawn exit e194 --created
spawn exit e195 --created
spawn exit e196 --created
spawn exit e197 --created
spawn exit e198 --created
spawn exit e199 --created
spawn exit e200 --created
spawn exit e201 --created
spawn exit e202 --created
spawn exit e203 --created
spawn exit e204 --created
spawn exit e205 --created
spawn exit e206 --created
spawn exit e207 --created
spawn exit e208 --created
spawn exit e209 --created
spawn exit e210 --created
spawn exit e211 --created
spawn exit e212 --created
spawn exit e213 --created
spawn exit e214 --created
spawn exit e215 --created
spawn exit e216 --created
spawn exit e217 --created
spawn exit e218 --created
spawn exit e219 --created
spawn exit e220 --created
spawn exit e221 --created
spawn exit e222 --created
spawn exit e223 --created
spawn exit e224 --created
spawn exit e225 --created
spawn exit e226 --created
spawn exit e227 --created
spawn exit e228 --created
spawn exit e229 --created
spawn exit e230 --created
spawn exit e231 --created
spawn exit e232 --created
spawn exit e233 --created
spawn exit e234 --created
spawn exit e235 --created
spawn exit e236 --created
spawn exit e237 --created
spawn exit e238 --created
spawn exit e239 --created
spawn exit e240 --created
spawn exit e241 --created
spawn exit e242 --created
spawn exit e243 --created
spawn exit e244 --created
spawn exit e245 --created
spawn exit e246 --created
spawn exit e247 --created
spawn exit e248 --created
spawn exit e249 --created
spawn exit e250 --created
spawn exit e251 --created
spawn exit e252 --created
spawn exit e253 --created
spawn exit e254 --created
spawn exit e255 --created
echo == spawned
ps
stop e0
stop e1
stop e2
stop e3
stop e4
stop e5
stop e6
stop e7
stop e8
stop e9
stop e10
stop e11
stop e12
stop e13
stop e14
stop e15
stop e16
stop e17
stop e18
stop e19
stop e20
stop e21
stop e22
stop e23
stop e24
stop e25
stop e26
stop e27
stop e28
stop e29
stop e30
stop e31
stop e32
stop e33
stop e34
stop e35
stop e36
stop e37
stop e38
stop e39
stop e40
stop e41
stop e42
stop e43
stop e44
stop e45
stop e46
stop e47
stop e48
stop e49
stop e50
stop e51
stop e52
stop e53
stop e54
stop e55
stop e56
stop e57
stop e58
stop e59
stop e60
stop e61
stop e62
stop e63
stop e64
stop e65
stop e66
stop e67
stop e68
stop e69
stop e70
stop e71
stop e72
stop e73
stop e74
stop e75
stop e76
stop e77
stop e78
stop e79
stop e80
stop e81
stop e82
stop e83
stop e84
stop e85
stop e86
stop e87
stop e88
stop e89
stop e90
stop e91
stop e92
stop e93
stop e94
stop e95
stop e96
stop e97
stop e98
stop e99
stop e100
stop e101
stop e102
stop e103
stop e104
stop e105
stop e106
stop e107
stop e108
stop e109
stop e110
stop e111
stop e112
stop e113
stop e114
stop e115
stop e116
stop e117
stop e118
stop e119
stop e120
stop e121
stop e122
stop e123
stop e124
stop e125
stop e126
stop e127
stop e128
stop e129
stop e130
stop e131
stop e132
stop e133
stop e134
stop e135
stop e136
stop e137
stop e138
stop e139
stop e140
stop e141
stop e142
stop e143
stop e144
stop e145
stop e146
stop e147
stop e148
stop e149
stop e150
stop e151
stop e152
stop e153
stop e154
stop e155
stop e156
stop e157
stop e158
stop e159
stop e160
stop e161
stop e162
stop e163
stop e164
stop e165
stop e166
stop e167
stop e168
stop e169
stop e170
stop e171
stop e172
stop e173
stop e174
stop e175
stop e176
stop e177
stop e178
stop e179
stop e180
stop e181
stop e182
stop e183
stop e184
stop e185
stop e186
stop e187
stop e188
stop e189
stop e190
stop e191
stop e192
stop e193
stop e194
stop e195
stop e196
stop e197
stop e198
stop e199
stop e200
stop e201
stop e202
stop e203
stop e204
stop e205
stop e206
stop e207
stop e208
stop e209
stop e210
stop e211
stop e212
stop e213
stop e214
stop e215
stop e216
stop e217
stop e218
stop e219
stop e220
stop e221
stop e222
stop e223
stop e224
stop e225
stop e226
stop e227
stop e228
stop e229
stop e230
stop e231
stop e232
stop e233
stop e234
stop e235
stop e236
stop e237
stop e238
stop e239
stop e240
stop e241
stop e242
stop e243
stop e244
stop e245
stop e246
stop e247
stop e248
stop e249
stop e250
stop e251
stop e252
stop e253
stop e254
stop e255
echo == stopped
ps
echo done
