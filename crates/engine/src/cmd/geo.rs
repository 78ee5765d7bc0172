//! Geospatial commands on sorted sets (Redis 7.0 geo.c, geohash.c): members scored with
//! Redis' 52-bit interleaved geohash. GEOADD, GEOPOS, GEODIST, GEOHASH.

use crate::args::{Args, OwnedArgs};
use crate::cmd::{read, zset};
use crate::error::{Error, Result};
use crate::shard::Ctx;
use crate::zset::ZSet;

const STEP: u32 = 26;
const LAT_MIN: f64 = -85.051_128_78;
const LAT_MAX: f64 = 85.051_128_78;
const LONG_MIN: f64 = -180.0;
const LONG_MAX: f64 = 180.0;
const EARTH_RADIUS_M: f64 = 6_372_797.560_856;

fn interleave(x: u32, y: u32) -> u64 {
    fn spread(v: u32) -> u64 {
        let mut v = v as u64;
        v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
        v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333_3333_3333;
        (v | (v << 1)) & 0x5555_5555_5555_5555
    }
    spread(x) | (spread(y) << 1)
}

fn deinterleave(v: u64) -> (u32, u32) {
    fn squash(mut v: u64) -> u32 {
        v &= 0x5555_5555_5555_5555;
        v = (v | (v >> 1)) & 0x3333_3333_3333_3333;
        v = (v | (v >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v >> 4)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF;
        ((v | (v >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
    }
    (squash(v), squash(v >> 1))
}

/// geohashEncode over the given ranges at `step` bits per coordinate.
fn encode(lon: f64, lat: f64, lat_range: (f64, f64), step: u32) -> u64 {
    let lat_offset = (lat - lat_range.0) / (lat_range.1 - lat_range.0) * (1u64 << step) as f64;
    let lon_offset = (lon - LONG_MIN) / (LONG_MAX - LONG_MIN) * (1u64 << step) as f64;
    interleave(lat_offset as u32, lon_offset as u32)
}

/// A score back to (longitude, latitude): the center of its cell, clamped
/// (geohashDecodeToLongLatWGS84).
fn decode(score: f64) -> (f64, f64) {
    let bits = score as u64;
    let (ilat, ilon) = deinterleave(bits);
    let cells = (1u64 << STEP) as f64;
    let lat_scale = LAT_MAX - LAT_MIN;
    let lon_scale = LONG_MAX - LONG_MIN;
    let lat_min = LAT_MIN + (ilat as f64 / cells) * lat_scale;
    let lat_max = LAT_MIN + ((ilat as f64 + 1.0) / cells) * lat_scale;
    let lon_min = LONG_MIN + (ilon as f64 / cells) * lon_scale;
    let lon_max = LONG_MIN + ((ilon as f64 + 1.0) / cells) * lon_scale;
    let lon = ((lon_min + lon_max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((lat_min + lat_max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// geohashGetDistance: haversine on Redis' earth radius.
fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let rad = |d: f64| d * (std::f64::consts::PI / 180.0);
    let (lon1r, lon2r) = (rad(lon1), rad(lon2));
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return EARTH_RADIUS_M * (rad(lat2) - rad(lat1)).abs();
    }
    let (lat1r, lat2r) = (rad(lat1), rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// fixedpoint_d2string with 4 decimals (llrint, then the point put in).
fn fixed4(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let v = (d * 10_000.0).round_ties_even() as i64;
    let sign = if v < 0 { "-" } else { "" };
    let v = v.unsigned_abs();
    format!("{sign}{}.{:04}", v / 10_000, v % 10_000)
}

/// `%.17Lf` with trailing zeros (and a trailing point) removed: addReplyHumanLongDouble.
fn human(d: f64) -> String {
    let s = format!("{d:.17}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn unit(arg: &[u8]) -> Result<f64> {
    let u = arg.to_ascii_lowercase();
    Ok(match u.as_slice() {
        b"m" => 1.0,
        b"km" => 1000.0,
        b"ft" => 0.3048,
        b"mi" => 1609.34,
        _ => {
            return Err(Error::msg(
                "ERR unsupported unit provided. please use M, KM, FT, MI",
            ))
        }
    })
}

fn float(arg: &[u8]) -> Result<f64> {
    crate::args::parse_f64(arg).ok_or(Error::msg("ERR value is not a valid float"))
}

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]: ZADD with geohash scores.
pub fn geoadd(ctx: &mut Ctx, args: Args) -> Result<()> {
    let mut at = 2;
    let (mut nx, mut xx) = (false, false);
    while at < args.len() {
        let opt = args.get(at);
        if opt.eq_ignore_ascii_case(b"nx") {
            nx = true;
        } else if opt.eq_ignore_ascii_case(b"xx") {
            xx = true;
        } else if !opt.eq_ignore_ascii_case(b"ch") {
            break;
        }
        at += 1;
    }
    if !(args.len() - at).is_multiple_of(3) || (xx && nx) {
        return Err(Error::Syntax);
    }
    let mut words: Vec<Vec<u8>> = vec![b"zadd".to_vec()];
    for i in 1..at {
        words.push(args.get(i).to_vec());
    }
    let mut i = at;
    while i < args.len() {
        let (lon, lat) = (float(args.get(i))?, float(args.get(i + 1))?);
        if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
            return Err(Error::msg(format!(
                "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
            )));
        }
        let bits = encode(lon, lat, (LAT_MIN, LAT_MAX), STEP);
        words.push(bits.to_string().into_bytes());
        words.push(args.get(i + 2).to_vec());
        i += 3;
    }
    let refs: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
    let owned = OwnedArgs::from_words(&refs);
    zset::zadd(ctx, owned.args())
}

/// The score of each member of `args[2..]` in the sorted set at `args[1]`.
fn scores(ctx: &mut Ctx, args: Args) -> Result<Vec<Option<f64>>> {
    let z = read::<ZSet>(ctx.shard, ctx.db, args.get(1))?;
    Ok((2..args.len())
        .map(|i| z.as_ref().and_then(|z| z.score(args.get(i))))
        .collect())
}

/// GEOPOS key [member ...]
pub fn geopos(ctx: &mut Ctx, args: Args) -> Result<()> {
    let scores = scores(ctx, args)?;
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            None => ctx.out.null_array(),
            Some(score) => {
                let (lon, lat) = decode(score);
                ctx.out.array(2);
                ctx.out.double_text(human(lon).as_bytes());
                ctx.out.double_text(human(lat).as_bytes());
            }
        }
    }
    Ok(())
}

/// GEODIST key member1 member2 [M|KM|FT|MI]
pub fn geodist(ctx: &mut Ctx, args: Args) -> Result<()> {
    let to_meter = match args.len() {
        5 => unit(args.get(4))?,
        4 => 1.0,
        _ => return Err(Error::Syntax),
    };
    let z = read::<ZSet>(ctx.shard, ctx.db, args.get(1))?;
    let (a, b) = match z {
        Some(z) => (z.score(args.get(2)), z.score(args.get(3))),
        None => (None, None),
    };
    match (a, b) {
        (Some(a), Some(b)) => {
            let (p, q) = (decode(a), decode(b));
            let d = distance(p.0, p.1, q.0, q.1) / to_meter;
            ctx.out.bulk(fixed4(d).as_bytes());
        }
        _ => ctx.out.null(),
    }
    Ok(())
}

/// GEOHASH key [member ...]: standard 11-character geohashes.
pub fn geohash(ctx: &mut Ctx, args: Args) -> Result<()> {
    const ALPHABET: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let scores = scores(ctx, args)?;
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            None => ctx.out.null(),
            Some(score) => {
                let (lon, lat) = decode(score);
                let bits = encode(lon, lat, (-90.0, 90.0), STEP);
                let mut buf = [0u8; 11];
                for (i, b) in buf.iter_mut().enumerate() {
                    let idx = if i == 10 {
                        0
                    } else {
                        (bits >> (52 - (i + 1) * 5)) & 0x1f
                    };
                    *b = ALPHABET[idx as usize];
                }
                ctx.out.bulk(&buf);
            }
        }
    }
    Ok(())
}
