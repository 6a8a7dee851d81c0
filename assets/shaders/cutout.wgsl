// A participant's cutout: the live RGBA texture, tinted, optionally mirrored, faded
// out towards the edges where the camera frame cut the person, graded towards the
// theme's light with a rim on the edge facing it, and in the hologram theme turned
// blue with scanlines and a ghost image instead.
#import bevy_sprite::mesh2d_vertex_output::VertexOutput

struct CutoutParams {
    // Multiplied with the texture colour.
    tint: vec4<f32>,
    // x: hologram strength (0 = off), y: scanlines per texture height,
    // z: ghost offset in texture widths, w: time in seconds.
    hologram: vec4<f32>,
    // Hologram colour (rgb), a: mirrored when > 0.5.
    holo_color: vec4<f32>,
    // Fade bands where the frame cut the person, in texture fractions:
    // x left, y right, z top, w bottom (0 = that edge does not fade).
    fade: vec4<f32>,
    // Grading (linear light): rgb gain (exposure and white balance).
    gain: vec4<f32>,
    // Grading: rgb lift of the shadows towards the ambient colour.
    lift: vec4<f32>,
    // Rim light: rgb colour, a: strength (0 = off).
    rim: vec4<f32>,
    // xy: texture offset pointing towards the light (the rim's width).
    light: vec4<f32>,
    // The part of the picture the quad covers, as shown (after mirroring):
    // u0, v0, u1, v1. The quad is cropped to where the person is.
    crop: vec4<f32>,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> params: CutoutParams;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var cutout_texture: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var cutout_sampler: sampler;

// 1 inside, falling smoothly to 0 at each edge that has a fade band.
fn edge_fade(uv: vec2<f32>) -> f32 {
    var f = 1.0;
    if (params.fade.x > 0.0) {
        f = f * smoothstep(0.0, params.fade.x, uv.x);
    }
    if (params.fade.y > 0.0) {
        f = f * smoothstep(0.0, params.fade.y, 1.0 - uv.x);
    }
    if (params.fade.z > 0.0) {
        f = f * smoothstep(0.0, params.fade.z, uv.y);
    }
    if (params.fade.w > 0.0) {
        f = f * smoothstep(0.0, params.fade.w, 1.0 - uv.y);
    }
    return f;
}

@fragment
fn fragment(mesh: VertexOutput) -> @location(0) vec4<f32> {
    var uv = mix(params.crop.xy, params.crop.zw, mesh.uv);
    if (params.holo_color.a > 0.5) {
        uv.x = 1.0 - uv.x;
    }
    let c = textureSample(cutout_texture, cutout_sampler, uv);
    let fade = edge_fade(uv);
    let s = params.hologram.x;
    if (s <= 0.0) {
        var rgb = c.rgb * params.gain.rgb + params.lift.rgb * (1.0 - c.rgb);
        if (params.rim.a > 0.0) {
            // Opaque here, transparent a little way towards the light: an edge facing it.
            let toward = textureSample(cutout_texture, cutout_sampler, uv + params.light.xy).a;
            rgb = rgb + params.rim.rgb * params.rim.a * clamp(c.a - toward, 0.0, 1.0);
        }
        return vec4<f32>(rgb * params.tint.rgb, c.a * params.tint.a * fade);
    }
    let t = params.hologram.w;
    // Ghost: a faint copy drifting beside the person.
    let drift = params.hologram.z * (1.0 + 0.5 * sin(t * 2.1));
    let ghost = textureSample(cutout_texture, cutout_sampler, uv + vec2<f32>(drift, 0.0));
    let luma = dot(c.rgb, vec3<f32>(0.299, 0.587, 0.114));
    let holo = params.holo_color.rgb * (0.35 + 1.1 * luma);
    // Scanlines rolling slowly downwards.
    let line = fract(uv.y * params.hologram.y - t * 0.8);
    let scan = 0.55 + 0.45 * smoothstep(0.0, 0.5, line) * (1.0 - smoothstep(0.5, 1.0, line));
    // A gentle flicker.
    let flicker = 0.92 + 0.08 * sin(t * 37.0 + uv.y * 3.0);
    let rgb = mix(c.rgb, holo, s) * mix(1.0, scan * flicker, s);
    let a_person = c.a * mix(1.0, 0.82, s);
    let a_ghost = ghost.a * 0.3 * s;
    let a = max(a_person, a_ghost);
    let colour = select(params.holo_color.rgb * 0.8, rgb, a_person >= a_ghost);
    return vec4<f32>(colour, a * fade);
}
