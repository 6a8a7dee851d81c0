// A participant's cutout: the live RGBA texture, tinted, optionally mirrored, and in
// the hologram theme turned blue with scanlines and a ghost image.
#import bevy_sprite::mesh2d_vertex_output::VertexOutput

struct CutoutParams {
    // Multiplied with the texture colour.
    tint: vec4<f32>,
    // x: hologram strength (0 = off), y: scanlines per texture height,
    // z: ghost offset in texture widths, w: time in seconds.
    hologram: vec4<f32>,
    // Hologram colour (rgb), a: mirrored when > 0.5.
    holo_color: vec4<f32>,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> params: CutoutParams;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var cutout_texture: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var cutout_sampler: sampler;

@fragment
fn fragment(mesh: VertexOutput) -> @location(0) vec4<f32> {
    var uv = mesh.uv;
    if (params.holo_color.a > 0.5) {
        uv.x = 1.0 - uv.x;
    }
    let c = textureSample(cutout_texture, cutout_sampler, uv);
    let s = params.hologram.x;
    if (s <= 0.0) {
        return vec4<f32>(c.rgb * params.tint.rgb, c.a * params.tint.a);
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
    return vec4<f32>(colour, a);
}
