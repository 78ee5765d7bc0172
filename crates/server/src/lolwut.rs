//! LOLWUT: the computer art redis-server draws. `VERSION 5` is Georg Nees' "Schotter" in
//! braille, `VERSION 6` a skyline in the terminal's four grays; any other version prints the
//! server version. The geometry follows Redis' C float by float (f32 where it uses `float`,
//! f64 where it calls the C maths library), so the art has the same shape; only the random
//! draws differ, as they do between two runs of redis-server.

use engine::dict::Rng;
use engine::{Args, Result};
use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

/// The reply text to `LOLWUT [VERSION n [arguments of version n]]`.
pub fn render(args: Args, server_version: &str) -> Result<String> {
    let mut version = None;
    if args.len() >= 3 && args.is(1, "version") {
        // Redis picks the art by the version formatted as a C unsigned int.
        version = Some(args.int(2)? as u32);
    }
    // A version's own arguments follow `VERSION n`; absent ones take the default.
    let arg = |i: usize, default: i64| {
        if args.len() > i + 2 {
            args.int(i + 2)
        } else {
            Ok(default)
        }
    };
    let mut rand = CRand::from_clock();
    let (art, caption) = match version {
        Some(5) => {
            let cols = limit(arg(1, 66)?, 1000);
            let per_row = limit(arg(2, 8)?, 200);
            let per_col = limit(arg(3, 12)?, 200);
            let canvas = schotter(cols, per_row, per_col, &mut rand);
            (braille(&canvas), SCHOTTER)
        }
        Some(6) => {
            let cols = limit(arg(1, 80)?, 1000);
            let rows = limit(arg(2, 20)?, 1000);
            let mut canvas = Canvas::new(cols, rows, 3);
            skyline(&mut canvas, &mut rand);
            (grays(&canvas), SKYLINE)
        }
        _ => return Ok(format!("Redis ver. {server_version}\n")),
    };
    Ok(format!("{art}\n{caption}{server_version}\n"))
}

const SCHOTTER: &str = "Georg Nees - schotter, plotter on paper, 1968. Redis ver. ";
const SKYLINE: &str = "Dedicated to the 8 bit game developers of past and present.\n\
    Original 8 bit image from Plaguemon by hikikomori. Redis ver. ";

/// Redis' bounds on the art's size, which keep LOLWUT cheap: at least 1, at most `max`.
fn limit(v: i64, max: i64) -> i32 {
    v.clamp(1, max) as i32
}

/// C's `rand()`: draws in `0..=RAND_MAX`, seeded from the clock as Redis' is at start.
struct CRand(Rng);

const RAND_MAX: i32 = i32::MAX;

impl CRand {
    fn from_clock() -> CRand {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        CRand(Rng::new(nanos))
    }

    fn next(&mut self) -> i32 {
        (self.0.next_u64() >> 33) as i32
    }

    /// `rand() % n`.
    fn below(&mut self, n: i32) -> i32 {
        self.next() % n
    }

    /// `(float)rand() / (float)RAND_MAX`.
    fn unit(&mut self) -> f32 {
        self.next() as f32 / RAND_MAX as f32
    }
}

/// √2 to the ten decimals Redis writes: the full constant could round a square's size the
/// other way.
#[allow(clippy::approx_constant)]
const REDIS_SQRT_2: f64 = 1.414_213_562_3;

/// A grid of pixels, each a color (0/1 for version 5, four grays for version 6). Drawing
/// outside it is allowed and does nothing; reading outside it gives color 0.
struct Canvas {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i32, height: i32, background: u8) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![background; width as usize * height as usize],
        }
    }

    fn index(&self, x: i32, y: i32) -> Option<usize> {
        let inside = (0..self.width).contains(&x) && (0..self.height).contains(&y);
        inside.then(|| x as usize + y as usize * self.width as usize)
    }

    fn set(&mut self, x: i32, y: i32, color: u8) {
        if let Some(i) = self.index(x, y) {
            self.pixels[i] = color;
        }
    }

    fn get(&self, x: i32, y: i32) -> u8 {
        self.index(x, y).map_or(0, |i| self.pixels[i])
    }

    /// Bresenham's line from `from` to `to`, both ends included.
    fn line(&mut self, from: (i32, i32), to: (i32, i32), color: u8) {
        let ((mut x, mut y), (x2, y2)) = (from, to);
        let (dx, dy) = ((x2 - x).abs(), (y2 - y).abs());
        let sx = if x < x2 { 1 } else { -1 };
        let sy = if y < y2 { 1 } else { -1 };
        let mut err = dx - dy;
        loop {
            self.set(x, y, color);
            if x == x2 && y == y2 {
                return;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x += sx;
            }
            if e2 < dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// The outline of a square of side `size` centred on (x, y) and turned by `angle`
    /// radians: its corners lie on a circle, a quarter turn apart from 45° + angle.
    fn square(&mut self, x: i32, y: i32, size: f32, angle: f32, color: u8) {
        let radius = ((size as f64 / REDIS_SQRT_2) as f32 as f64).round();
        let mut k = (FRAC_PI_4 + angle as f64) as f32;
        let mut corners = [(0, 0); 4];
        for corner in &mut corners {
            let k64 = k as f64;
            *corner = (
                (k64.sin() * radius + x as f64).round() as i32,
                (k64.cos() * radius + y as f64).round() as i32,
            );
            k = (k64 + FRAC_PI_2) as f32;
        }
        for j in 0..4 {
            self.line(corners[j], corners[(j + 1) % 4], color);
        }
    }
}

/// Schotter: rows of squares that turn and drift more the lower they are, the first two rows
/// straight. The canvas is two pixels per console column, as tall as the squares need.
fn schotter(cols: i32, per_row: i32, per_col: i32, rand: &mut CRand) -> Canvas {
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32 + (padding * 2) as f32) as i32;
    let mut canvas = Canvas::new(width, height, 0);
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut angle = 0.0;
            if y > 1 {
                let mut jitter = [0.0f32; 3];
                for r in &mut jitter {
                    *r = rand.unit() / per_col as f32 * y as f32;
                }
                for r in &mut jitter {
                    if rand.below(2) != 0 {
                        *r = -*r;
                    }
                }
                angle = jitter[0];
                sx = (sx as f32 + jitter[1] * side / 3.0) as i32;
                sy = (sy as f32 + jitter[2] * side / 3.0) as i32;
            }
            canvas.square(sx, sy, side, angle, 1);
        }
    }
    canvas
}

/// One braille character per 2×4 pixels, rows of characters separated by newlines. Like
/// Redis, a newline also follows the last row unless the height is one more than a multiple
/// of four.
fn braille(canvas: &Canvas) -> String {
    // Pixel offsets of the braille dots, least significant bit first.
    const DOTS: [(i32, i32); 8] = [
        (0, 0),
        (0, 1),
        (0, 2),
        (1, 0),
        (1, 1),
        (1, 2),
        (0, 3),
        (1, 3),
    ];
    let mut text = String::new();
    for y in (0..canvas.height).step_by(4) {
        for x in (0..canvas.width).step_by(2) {
            let bits = DOTS.iter().enumerate().fold(0, |bits, (bit, &(dx, dy))| {
                bits | (u32::from(canvas.get(x + dx, y + dy) != 0) << bit)
            });
            text.extend(char::from_u32(0x2800 + bits));
        }
        if y != canvas.height - 1 {
            text.push('\n');
        }
    }
    text
}

/// A building: `width` pixels from `xoff`, `height` pixels up from the canvas' bottom.
struct Skyscraper {
    xoff: i32,
    width: i32,
    height: i32,
    color: u8,
    windows: bool,
}

/// A parallax skyline: two layers of plain buildings (the lighter gray behind), then black
/// buildings with randomly lit windows in front.
fn skyline(canvas: &mut Canvas, rand: &mut CRand) {
    let h = canvas.height;
    for color in [2, 1] {
        let mut offset = -10;
        while offset < canvas.width {
            offset += rand.below(8);
            let width = 10 + rand.below(9);
            let height = h / 2 + rand.below(h) / if color == 2 { 2 } else { 3 };
            let building = Skyscraper {
                xoff: offset,
                width,
                height,
                color,
                windows: false,
            };
            building.draw(canvas, rand);
            offset += if color == 2 { width / 2 } else { width + 1 };
        }
    }
    let mut offset = -10;
    while offset < canvas.width {
        offset += rand.below(8);
        let mut width = 5 + rand.below(14);
        if width % 4 != 0 {
            width += width % 3;
        }
        let height = h / 3 + rand.below(h) / 2;
        let building = Skyscraper {
            xoff: offset,
            width,
            height,
            color: 0,
            windows: true,
        };
        building.draw(canvas, rand);
        offset += width + 5;
    }
}

impl Skyscraper {
    /// Draws one building: a roof two pixels narrower on each side and, with windows, panes two
    /// pixels wide on every other row of its inner part, each lit in one of the grays.
    fn draw(&self, canvas: &mut Canvas, rand: &mut CRand) {
        let bottom = canvas.height - 1;
        let top = bottom - self.height + 1;
        let (left, right) = (self.xoff, self.xoff + self.width);
        for y in (top..=bottom).rev() {
            for x in left..right {
                if y == top && (x <= left + 1 || x >= right - 2) {
                    continue;
                }
                let mut color = self.color;
                let inner = x > left + 1 && x < right - 2 && y > top + 1 && y < bottom - 1;
                let (relx, rely) = (x - (left + 1), y - (top + 1));
                if self.windows && inner && relx / 2 % 2 != 0 && rely % 2 != 0 {
                    while color == self.color {
                        color = 1 + rand.below(2) as u8;
                    }
                    if relx % 2 != 0 {
                        color = canvas.get(x - 1, y);
                    }
                }
                canvas.set(x, y, color);
            }
        }
    }
}

/// One space per pixel with foreground and background set to its gray, rows separated by
/// newlines.
fn grays(canvas: &Canvas) -> String {
    let mut text = String::new();
    for y in 0..canvas.height {
        for x in 0..canvas.width {
            let escape = match canvas.get(x, y) {
                1 => "0;90;100m",
                2 => "0;37;47m",
                3 => "0;97;107m",
                _ => "0;30;40m",
            };
            text.push_str("\x1b[");
            text.push_str(escape);
            text.push_str(" \x1b[0m");
        }
        if y != canvas.height - 1 {
            text.push('\n');
        }
    }
    text
}
