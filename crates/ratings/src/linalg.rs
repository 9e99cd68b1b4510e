//! Dense symmetric linear algebra for the Newton solver: a Cholesky factorisation
//! and the solves built on it. The matrices are small (one row per rated model,
//! about 130 on the public arena), so a hand-written row-oriented factorisation
//! with dot-product inner loops is both simple and fast enough.

/// A dense square matrix stored row-major.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matrix {
    pub(crate) n: usize,
    pub(crate) data: Vec<f64>,
}

impl Matrix {
    pub(crate) fn zeros(n: usize) -> Self {
        Self {
            n,
            data: vec![0.0; n * n],
        }
    }

    pub(crate) fn identity(n: usize) -> Self {
        let mut m = Self::zeros(n);
        for i in 0..n {
            m.data[i * n + i] = 1.0;
        }
        m
    }

    #[inline]
    pub(crate) fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.n + j]
    }

    #[inline]
    pub(crate) fn add(&mut self, i: usize, j: usize, v: f64) {
        self.data[i * self.n + j] += v;
    }

    pub(crate) fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.n..(i + 1) * self.n]
    }

    /// `self · other` for square matrices of the same size.
    pub(crate) fn mul(&self, other: &Matrix) -> Matrix {
        let n = self.n;
        let mut out = Matrix::zeros(n);
        for i in 0..n {
            let out_row = &mut out.data[i * n..(i + 1) * n];
            for k in 0..n {
                let a = self.data[i * n + k];
                if a == 0.0 {
                    continue;
                }
                let b_row = &other.data[k * n..(k + 1) * n];
                for (o, b) in out_row.iter_mut().zip(b_row) {
                    *o += a * b;
                }
            }
        }
        out
    }

    /// `vᵀ · self · v`.
    pub(crate) fn quadratic_form(&self, v: &[f64]) -> f64 {
        (0..self.n).map(|i| v[i] * dot(self.row(i), v)).sum()
    }
}

/// Dot product with four independent accumulators so that the compiler can
/// vectorise it (a single accumulator forces sequential floating-point adds).
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let mut acc = [0.0f64; 4];
    let chunks_a = a.chunks_exact(4);
    let chunks_b = b.chunks_exact(4);
    let rest: f64 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        acc[0] += ca[0] * cb[0];
        acc[1] += ca[1] * cb[1];
        acc[2] += ca[2] * cb[2];
        acc[3] += ca[3] * cb[3];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + rest
}

/// The lower-triangular Cholesky factor `L` of a symmetric positive-definite
/// matrix `A = L·Lᵀ`, stored row-major (the upper triangle is zero).
#[derive(Debug, Clone)]
pub(crate) struct Cholesky {
    l: Matrix,
    /// `Lᵀ`, row-major: the backward substitution reads it row by row
    /// (contiguous dot products instead of a strided column walk).
    lt: Matrix,
}

impl Cholesky {
    /// Factorises `a`; `None` if it is not (numerically) positive definite.
    pub(crate) fn new(a: &Matrix) -> Option<Self> {
        let n = a.n;
        let mut l = Matrix::zeros(n);
        for i in 0..n {
            for j in 0..=i {
                let s = dot(&l.data[i * n..i * n + j], &l.data[j * n..j * n + j]);
                let v = a.data[i * n + j] - s;
                if i == j {
                    if v.is_nan() || v <= 0.0 || !v.is_finite() {
                        return None;
                    }
                    l.data[i * n + i] = v.sqrt();
                } else {
                    l.data[i * n + j] = v / l.data[j * n + j];
                }
            }
        }
        let mut lt = Matrix::zeros(n);
        for i in 0..n {
            for j in 0..=i {
                lt.data[j * n + i] = l.data[i * n + j];
            }
        }
        Some(Self { l, lt })
    }

    /// Solves `A x = b` in place.
    pub(crate) fn solve_in_place(&self, b: &mut [f64]) {
        let n = self.l.n;
        let l = &self.l.data;
        // forward: L y = b
        for i in 0..n {
            let s = dot(&l[i * n..i * n + i], &b[..i]);
            b[i] = (b[i] - s) / l[i * n + i];
        }
        // backward: Lᵀ x = y
        let lt = &self.lt.data;
        for i in (0..n).rev() {
            let s = dot(&lt[i * n + i + 1..(i + 1) * n], &b[i + 1..n]);
            b[i] = (b[i] - s) / lt[i * n + i];
        }
    }

    /// `A⁻¹` (symmetric).
    pub(crate) fn inverse(&self) -> Matrix {
        let n = self.l.n;
        let mut inv = Matrix::zeros(n);
        let mut col = vec![0.0; n];
        for j in 0..n {
            col.iter_mut().for_each(|c| *c = 0.0);
            col[j] = 1.0;
            self.solve_in_place(&mut col);
            for i in 0..n {
                inv.data[i * n + j] = col[i];
            }
        }
        // symmetrise away rounding asymmetry
        for i in 0..n {
            for j in 0..i {
                let v = 0.5 * (inv.data[i * n + j] + inv.data[j * n + i]);
                inv.data[i * n + j] = v;
                inv.data[j * n + i] = v;
            }
        }
        inv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_small_spd_system() {
        let a = Matrix {
            n: 3,
            data: vec![4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0],
        };
        let chol = Cholesky::new(&a).unwrap();
        let x_true = [1.0, -2.0, 0.5];
        let mut b: Vec<f64> = (0..3).map(|i| dot(a.row(i), &x_true)).collect();
        chol.solve_in_place(&mut b);
        for (x, t) in b.iter().zip(x_true) {
            assert!((x - t).abs() < 1e-12);
        }
        let prod = a.mul(&chol.inverse());
        for i in 0..3 {
            for j in 0..3 {
                let expect = if i == j { 1.0 } else { 0.0 };
                assert!((prod.get(i, j) - expect).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn rejects_indefinite() {
        let a = Matrix {
            n: 2,
            data: vec![1.0, 2.0, 2.0, 1.0],
        };
        assert!(Cholesky::new(&a).is_none());
        assert_eq!(Matrix::identity(2).quadratic_form(&[3.0, 4.0]), 25.0);
    }
}
