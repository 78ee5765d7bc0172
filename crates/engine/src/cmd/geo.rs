//! Geospatial commands on sorted sets (Redis 7.0 geo.c, geohash.c): members scored with
//! Redis' 52-bit interleaved geohash. GEOADD, GEOPOS, GEODIST, GEOHASH.

use crate::args::{Args, OwnedArgs};
use crate::cmd::{read, zset};
use crate::error::{Error, Result};
use crate::shard::Ctx;
use crate::zset::ZSet;
use std::cmp::Ordering;

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

// ---- Searching: GEORADIUS, GEORADIUSBYMEMBER, GEOSEARCH, GEOSEARCHSTORE ----

const MERCATOR_MAX: f64 = 20_037_726.37;

fn rad(d: f64) -> f64 {
    d * (std::f64::consts::PI / 180.0)
}

fn deg(r: f64) -> f64 {
    r / (std::f64::consts::PI / 180.0)
}

/// A geohash cell: `bits` over `step` bits per coordinate (GeoHashBits). All zero is "none".
#[derive(Clone, Copy, PartialEq, Debug)]
struct Cell {
    bits: u64,
    step: u32,
}

const NONE: Cell = Cell { bits: 0, step: 0 };

/// A cell's bounds: (lon_min, lon_max, lat_min, lat_max) (geohashDecode).
fn area(c: Cell) -> (f64, f64, f64, f64) {
    let (ilat, ilon) = deinterleave(c.bits);
    let cells = (1u64 << c.step) as f64;
    let lat_scale = LAT_MAX - LAT_MIN;
    let lon_scale = LONG_MAX - LONG_MIN;
    (
        LONG_MIN + (ilon as f64 / cells) * lon_scale,
        LONG_MIN + ((ilon as f64 + 1.0) / cells) * lon_scale,
        LAT_MIN + (ilat as f64 / cells) * lat_scale,
        LAT_MIN + ((ilat as f64 + 1.0) / cells) * lat_scale,
    )
}

/// geohash_move_x / geohash_move_y: the cell `d` steps east (x) or north (y).
fn shift(c: Cell, d: i8, x_axis: bool) -> Cell {
    if d == 0 {
        return c;
    }
    const EVEN: u64 = 0xaaaa_aaaa_aaaa_aaaa;
    const ODD: u64 = 0x5555_5555_5555_5555;
    let (moving_mask, fixed_mask) = if x_axis { (EVEN, ODD) } else { (ODD, EVEN) };
    let mut m = c.bits & moving_mask;
    let fixed = c.bits & fixed_mask;
    let zz = fixed_mask >> (64 - c.step * 2);
    if d > 0 {
        m = m.wrapping_add(zz + 1);
    } else {
        m |= zz;
        m = m.wrapping_sub(zz + 1);
    }
    m &= moving_mask >> (64 - c.step * 2);
    Cell {
        bits: m | fixed,
        step: c.step,
    }
}

fn moved(c: Cell, dx: i8, dy: i8) -> Cell {
    shift(shift(c, dx, true), dy, false)
}

/// geohashEstimateStepsByRadius.
fn steps_for(mut range: f64, lat: f64) -> u32 {
    if range == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u32
}

#[derive(Clone, Copy)]
enum Within {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// GeoShape: the search center, its figure and the unit's meters.
#[derive(Clone, Copy)]
struct Shape {
    lon: f64,
    lat: f64,
    conv: f64,
    within: Within,
}

impl Shape {
    /// geohashBoundingBox: (min_lon, min_lat, max_lon, max_lat).
    fn bounds(&self) -> (f64, f64, f64, f64) {
        let (h, w) = match self.within {
            Within::Radius(r) => (r, r),
            Within::Box { width, height } => (height / 2.0, width / 2.0),
        };
        let (height, width) = (h * self.conv, w * self.conv);
        let lat_delta = deg(height / EARTH_RADIUS_M);
        let top = deg(width / EARTH_RADIUS_M / rad(self.lat + lat_delta).cos());
        let bottom = deg(width / EARTH_RADIUS_M / rad(self.lat - lat_delta).cos());
        let delta = if self.lat < 0.0 { bottom } else { top };
        (
            self.lon - delta,
            self.lat - lat_delta,
            self.lon + delta,
            self.lat + lat_delta,
        )
    }

    /// geohashCalculateAreasByShapeWGS84 and the order membersOfAllNeighbors searches in:
    /// the center cell, then N S E W NE NW SE SW; useless cells are NONE.
    fn cells(&self) -> [Cell; 9] {
        let (min_lon, min_lat, max_lon, max_lat) = self.bounds();
        let radius = match self.within {
            Within::Radius(r) => r,
            Within::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conv;
        let mut steps = steps_for(radius, self.lat);
        let at = |steps: u32| Cell {
            bits: encode(self.lon, self.lat, (LAT_MIN, LAT_MAX), steps),
            step: steps,
        };
        let mut center = at(steps);
        let decrease = area(moved(center, 0, 1)).3 < max_lat
            || area(moved(center, 0, -1)).2 > min_lat
            || area(moved(center, 1, 0)).1 < max_lon
            || area(moved(center, -1, 0)).0 > min_lon;
        if steps > 1 && decrease {
            steps -= 1;
            center = at(steps);
        }
        // Order: center, north, south, east, west, NE, NW, SE, SW.
        let mut cells = [
            center,
            moved(center, 0, 1),
            moved(center, 0, -1),
            moved(center, 1, 0),
            moved(center, -1, 0),
            moved(center, 1, 1),
            moved(center, -1, 1),
            moved(center, 1, -1),
            moved(center, -1, -1),
        ];
        if steps >= 2 {
            let (lo_min, lo_max, la_min, la_max) = area(center);
            let mut clear = |idx: &[usize]| idx.iter().for_each(|&i| cells[i] = NONE);
            if la_min < min_lat {
                clear(&[2, 8, 7]);
            }
            if la_max > max_lat {
                clear(&[1, 5, 6]);
            }
            if lo_min < min_lon {
                clear(&[4, 8, 6]);
            }
            if lo_max > max_lon {
                clear(&[3, 7, 5]);
            }
        }
        cells
    }

    /// geoWithinShape: the distance from the center when the point is inside.
    fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.within {
            Within::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conv).then_some(d)
            }
            Within::Box { width, height } => {
                let (w, h) = (width * self.conv, height * self.conv);
                if EARTH_RADIUS_M * (rad(self.lat) - rad(lat)).abs() > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }
}

/// One match (geoPoint).
struct Point {
    lon: f64,
    lat: f64,
    dist: f64,
    score: f64,
    member: Vec<u8>,
}

/// membersOfAllNeighbors: the members inside the shape, cell by cell in score order,
/// stopping at `limit` matches when it is not 0 (COUNT n ANY).
fn members_within(z: &ZSet, shape: &Shape, limit: usize) -> Vec<Point> {
    let cells = shape.cells();
    let mut found: Vec<Point> = Vec::new();
    let full = |found: &Vec<Point>| limit != 0 && found.len() >= limit;
    let mut last = 0;
    for (i, &c) in cells.iter().enumerate() {
        if c == NONE {
            continue;
        }
        if last != 0 && c == cells[last] {
            continue;
        }
        if full(&found) {
            break;
        }
        let shift = 52 - c.step * 2;
        let min = (c.bits << shift) as f64;
        let max = ((c.bits + 1) << shift) as f64;
        let start = z.count_while(|s, _| s < min);
        z.walk(start, |m, s| {
            if s >= max {
                return false;
            }
            let (lon, lat) = decode(s);
            if let Some(dist) = shape.contains(lon, lat) {
                found.push(Point {
                    lon,
                    lat,
                    dist,
                    score: s,
                    member: m.to_vec(),
                });
            }
            !full(&found)
        });
        last = i;
    }
    found
}

/// Redis' pqsort (Bentley-McIlroy quicksort that only sorts the partitions overlapping
/// ranks `lo..=hi`), ported so that ties come out in redis-server's order.
fn pqsort<T>(v: &mut [T], lo: usize, hi: usize, cmp: &impl Fn(&T, &T) -> Ordering) {
    let n = v.len();
    pq(v, 0, n, lo, hi, cmp);
}

fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    if cmp(&v[a], &v[b]) == Ordering::Less {
        if cmp(&v[b], &v[c]) == Ordering::Less {
            b
        } else if cmp(&v[a], &v[c]) == Ordering::Less {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]) == Ordering::Greater {
        b
    } else if cmp(&v[a], &v[c]) == Ordering::Less {
        a
    } else {
        c
    }
}

fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// _pqsort on the partition `v[base..base + n]`; `lo..=hi` are ranks in all of `v`.
fn pq<T>(
    v: &mut [T],
    mut base: usize,
    mut n: usize,
    lo: usize,
    hi: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
) {
    use Ordering::{Equal, Greater, Less};
    // A partition `l..l + len` matters when it overlaps the ranks asked for.
    let overlaps = |l: usize, len: usize| !(hi < l || lo > l + len - 1);
    loop {
        let a = base;
        if n < 7 {
            for pm in a + 1..a + n {
                let mut pl = pm;
                while pl > a && cmp(&v[pl - 1], &v[pl]) == Greater {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let mut pl = a;
            let mut pn = a + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        // pc and pd can step to `a` (one below pb's start): signed positions.
        let (mut pc, mut pd) = ((a + n - 1) as isize, (a + n - 1) as isize);
        loop {
            while pb as isize <= pc {
                let r = cmp(&v[pb], &v[a]);
                if r == Greater {
                    break;
                }
                if r == Equal {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb as isize <= pc {
                let r = cmp(&v[pc as usize], &v[a]);
                if r == Less {
                    break;
                }
                if r == Equal {
                    v.swap(pc as usize, pd as usize);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb as isize > pc {
                break;
            }
            v.swap(pb, pc as usize);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = ((pd - pc) as usize).min(pn - pd as usize - 1);
        vecswap(v, pb, pn - r, r);
        let left = pb - pa;
        if left > 1 && overlaps(a, left) {
            pq(v, a, left, lo, hi, cmp);
        }
        let right = (pd - pc) as usize;
        if right > 1 && overlaps(pn - right, right) {
            base = pn - right;
            n = right;
            continue;
        }
        return;
    }
}

/// Which search command runs (georadiusGeneric's flags).
#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// GEORADIUS[_RO]: key longitude latitude radius unit.
    Coords { store: bool },
    /// GEORADIUSBYMEMBER[_RO]: key member radius unit.
    Member { store: bool },
    /// GEOSEARCH key ...
    Search,
    /// GEOSEARCHSTORE dst key ...
    SearchStore,
}

fn lonlat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64)> {
    let (lon, lat) = (float(lon)?, float(lat)?);
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return Err(Error::msg(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// extractDistanceOrReply: (radius, meters per unit).
fn radius(n: &[u8], u: &[u8]) -> Result<(f64, f64)> {
    let r = crate::args::parse_f64(n).ok_or(Error::msg("ERR need numeric radius"))?;
    if r < 0.0 {
        return Err(Error::msg("ERR radius cannot be negative"));
    }
    Ok((r, unit(u)?))
}

/// longLatFromMember.
fn member_position(z: &ZSet, member: &[u8]) -> Result<(f64, f64)> {
    z.score(member)
        .map(decode)
        .ok_or(Error::msg("ERR could not decode requested zset member"))
}

fn georadius_generic(ctx: &mut Ctx, args: Args, form: Form) -> Result<()> {
    let src_at = if form == Form::SearchStore { 2 } else { 1 };
    let z = read::<ZSet>(ctx.shard, ctx.db, args.get(src_at))?;
    let z = z.as_deref();
    let (mut center, mut within, mut conv) = (None, None, 1.0);
    let (base, store_allowed, search) = match form {
        Form::Coords { store } => {
            center = Some(lonlat(args.get(2), args.get(3))?);
            let (r, c) = radius(args.get(4), args.get(5))?;
            (within, conv) = (Some(Within::Radius(r)), c);
            (6, store, false)
        }
        Form::Member { store } => {
            if let Some(z) = z {
                center = Some(member_position(z, args.get(2))?);
                let (r, c) = radius(args.get(3), args.get(4))?;
                (within, conv) = (Some(Within::Radius(r)), c);
            }
            (5, store, false)
        }
        Form::Search => (2, false, true),
        Form::SearchStore => (3, false, true),
    };
    let mut store: Option<(Vec<u8>, bool)> =
        (form == Form::SearchStore).then(|| (args.get(1).to_vec(), false));
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut frommember, mut fromloc) = (false, false);
    let mut sort: Option<bool> = None; // Some(true) = DESC
    let mut count: i64 = 0;
    let n = args.len();
    let mut i = base;
    while i < n {
        let arg = args.get(i);
        let left = n - i - 1;
        let is = |w: &[u8]| arg.eq_ignore_ascii_case(w);
        if is(b"withdist") {
            withdist = true;
        } else if is(b"withhash") {
            withhash = true;
        } else if is(b"withcoord") {
            withcoord = true;
        } else if is(b"any") {
            any = true;
        } else if is(b"asc") {
            sort = Some(false);
        } else if is(b"desc") {
            sort = Some(true);
        } else if is(b"count") && left >= 1 {
            count = crate::args::parse_i64(args.get(i + 1)).ok_or(Error::NotInteger)?;
            if count <= 0 {
                return Err(Error::msg("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (is(b"store") || is(b"storedist")) && left >= 1 && store_allowed {
            store = Some((args.get(i + 1).to_vec(), is(b"storedist")));
            i += 1;
        } else if is(b"storedist") && form == Form::SearchStore {
            if let Some(s) = store.as_mut() {
                s.1 = true;
            }
        } else if is(b"frommember") && left >= 1 && search && !fromloc {
            if let Some(z) = z {
                center = Some(member_position(z, args.get(i + 1))?);
            }
            frommember = true;
            i += 1;
        } else if is(b"fromlonlat") && left >= 2 && search && !frommember {
            center = Some(lonlat(args.get(i + 1), args.get(i + 2))?);
            fromloc = true;
            i += 2;
        } else if is(b"byradius")
            && left >= 2
            && search
            && !matches!(within, Some(Within::Box { .. }))
        {
            let (r, c) = radius(args.get(i + 1), args.get(i + 2))?;
            (within, conv) = (Some(Within::Radius(r)), c);
            i += 2;
        } else if is(b"bybox") && left >= 3 && search && !matches!(within, Some(Within::Radius(_)))
        {
            let w = crate::args::parse_f64(args.get(i + 1))
                .ok_or(Error::msg("ERR need numeric width"))?;
            let h = crate::args::parse_f64(args.get(i + 2))
                .ok_or(Error::msg("ERR need numeric height"))?;
            if h < 0.0 || w < 0.0 {
                return Err(Error::msg("ERR height or width cannot be negative"));
            }
            conv = unit(args.get(i + 3))?;
            within = Some(Within::Box {
                width: w,
                height: h,
            });
            i += 3;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if store.is_some() && (withdist || withhash || withcoord) {
        let what = if form == Form::SearchStore {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(Error::msg(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    let name = || String::from_utf8_lossy(args.get(0)).into_owned();
    if search && !(frommember || fromloc) {
        return Err(Error::msg(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name()
        )));
    }
    if search && within.is_none() {
        return Err(Error::msg(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            name()
        )));
    }
    if any && count == 0 {
        return Err(Error::msg("ERR the ANY argument requires COUNT argument"));
    }
    let (Some(z), Some((lon, lat)), Some(within)) = (z, center, within) else {
        match store {
            Some((dst, _)) => {
                crate::cmd::clear_destination(ctx, &dst);
                ctx.out.integer(0);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    if count != 0 && sort.is_none() && !any {
        sort = Some(false);
    }
    let shape = Shape {
        lon,
        lat,
        conv,
        within,
    };
    let limit = if any { count as usize } else { 0 };
    let mut found = members_within(z, &shape, limit);
    if found.is_empty() && store.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    let returned = if count == 0 {
        found.len()
    } else {
        found.len().min(count as usize)
    };
    if let Some(desc) = sort {
        let asc = |a: &Point, b: &Point| {
            if a.dist > b.dist {
                Ordering::Greater
            } else if a.dist == b.dist {
                Ordering::Equal
            } else {
                Ordering::Less
            }
        };
        let cmp = |a: &Point, b: &Point| if desc { asc(a, b).reverse() } else { asc(a, b) };
        if returned == found.len() {
            // glibc's qsort is a stable merge sort.
            found.sort_by(cmp);
        } else {
            pqsort(&mut found, 0, returned - 1, &cmp);
        }
    }
    found.truncate(returned);
    match store {
        None => {
            let extra = withdist as usize + withhash as usize + withcoord as usize;
            ctx.out.array(returned);
            for p in &found {
                if extra > 0 {
                    ctx.out.array(extra + 1);
                }
                ctx.out.bulk(&p.member);
                if withdist {
                    ctx.out.bulk(fixed4(p.dist / conv).as_bytes());
                }
                if withhash {
                    ctx.out.integer(p.score as i64);
                }
                if withcoord {
                    ctx.out.array(2);
                    ctx.out.double_text(human(p.lon).as_bytes());
                    ctx.out.double_text(human(p.lat).as_bytes());
                }
            }
        }
        Some((dst, storedist)) => {
            if found.is_empty() {
                crate::cmd::clear_destination(ctx, &dst);
                ctx.out.integer(0);
                return Ok(());
            }
            let limits = ctx.shard.limits;
            let longest = found.iter().map(|p| p.member.len()).max().unwrap_or(0);
            let mut out = ZSet::for_result(found.len(), longest, &limits);
            for p in &found {
                let score = if storedist { p.dist / conv } else { p.score };
                out.insert_new(score, &p.member, &limits);
            }
            ctx.shard
                .store(ctx.db, &dst, crate::value::Value::ZSet(out), 0);
            let event = if search {
                "geosearchstore"
            } else {
                "georadiusstore"
            };
            ctx.notify(crate::notify::ZSET, event, &dst);
            ctx.out.integer(returned as i64);
        }
    }
    Ok(())
}

pub fn georadius(ctx: &mut Ctx, args: Args) -> Result<()> {
    georadius_generic(ctx, args, Form::Coords { store: true })
}

pub fn georadius_ro(ctx: &mut Ctx, args: Args) -> Result<()> {
    georadius_generic(ctx, args, Form::Coords { store: false })
}

pub fn georadiusbymember(ctx: &mut Ctx, args: Args) -> Result<()> {
    georadius_generic(ctx, args, Form::Member { store: true })
}

pub fn georadiusbymember_ro(ctx: &mut Ctx, args: Args) -> Result<()> {
    georadius_generic(ctx, args, Form::Member { store: false })
}

pub fn geosearch(ctx: &mut Ctx, args: Args) -> Result<()> {
    georadius_generic(ctx, args, Form::Search)
}

pub fn geosearchstore(ctx: &mut Ctx, args: Args) -> Result<()> {
    georadius_generic(ctx, args, Form::SearchStore)
}
