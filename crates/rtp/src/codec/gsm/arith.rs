//! The basic operations of GSM 06.10 §5.1 ("Arithmetic operations"): 16-bit words and 32-bit
//! long words in two's complement, with saturation where the standard saturates. Bit
//! exactness depends on using exactly these, in exactly the places the standard does.

/// Largest 16-bit word, the saturation bound of the word operations.
pub(super) const MAX_WORD: i16 = i16::MAX;
/// Smallest 16-bit word.
pub(super) const MIN_WORD: i16 = i16::MIN;

/// `add(a, b)`: 16-bit addition, saturated to [−32768, 32767].
#[inline]
pub(super) fn add(a: i16, b: i16) -> i16 {
    a.saturating_add(b)
}

/// `sub(a, b)`: 16-bit subtraction, saturated.
#[inline]
pub(super) fn sub(a: i16, b: i16) -> i16 {
    a.saturating_sub(b)
}

/// `mult(a, b)`: fractional multiplication `(a × b) >> 15`; `mult(−32768, −32768) = 32767`.
#[inline]
pub(super) fn mult(a: i16, b: i16) -> i16 {
    if a == MIN_WORD && b == MIN_WORD {
        MAX_WORD
    } else {
        ((i32::from(a) * i32::from(b)) >> 15) as i16
    }
}

/// `mult_r(a, b)`: fractional multiplication with rounding, `(a × b + 16384) >> 15`;
/// `mult_r(−32768, −32768) = 32767`.
#[inline]
pub(super) fn mult_r(a: i16, b: i16) -> i16 {
    if a == MIN_WORD && b == MIN_WORD {
        MAX_WORD
    } else {
        ((i32::from(a) * i32::from(b) + 16_384) >> 15) as i16
    }
}

/// `abs(a)`: absolute value, `abs(−32768) = 32767`.
#[inline]
pub(super) fn abs(a: i16) -> i16 {
    a.saturating_abs()
}

/// `L_mult(a, b)`: `a × b << 1` as a 32-bit long word; `L_mult(−32768, −32768) =
/// 2147483647`.
#[inline]
pub(super) fn l_mult(a: i16, b: i16) -> i32 {
    if a == MIN_WORD && b == MIN_WORD {
        i32::MAX
    } else {
        (i32::from(a) * i32::from(b)) << 1
    }
}

/// `L_add(a, b)`: 32-bit addition, saturated.
#[inline]
pub(super) fn l_add(a: i32, b: i32) -> i32 {
    a.saturating_add(b)
}

/// `Σ L_mult(a[k], b[k])` with `L_add`, for callers whose operands are scaled so that the
/// sum cannot leave 32 bits (and no pair is −32768 × −32768): then saturation never acts and
/// a plain sum gives the same result, which the compiler can vectorise. Wrapping, not
/// panicking, should the precondition ever fail.
#[inline]
pub(super) fn l_mult_sum(a: &[i16], b: &[i16]) -> i32 {
    a.iter()
        .zip(b)
        .fold(0i32, |sum, (&x, &y)| {
            sum.wrapping_add(i32::from(x) * i32::from(y))
        })
        .wrapping_mul(2)
}

/// `norm(L_var)`: the number of left shifts that normalise a non-zero long word, i.e. bring
/// a positive value into [2^30, 2^31 − 1] or a negative one into [−2^31, −2^30]. The
/// standard leaves `norm(0)` undefined; 0 here (every caller treats zero first).
#[inline]
pub(super) fn norm(value: i32) -> i16 {
    if value == 0 {
        return 0;
    }
    let magnitude_bits = if value < 0 {
        if value <= -(1 << 30) {
            return 0;
        }
        !value
    } else {
        value
    };
    (magnitude_bits.leading_zeros() - 1) as i16
}

/// `div(num, denum)`: the fractional quotient `num / denum` in Q15 for `0 <= num <= denum`
/// and `denum > 0`, by 15 steps of restoring binary division. Returns 0 when `num` is 0 and
/// 32767 if the precondition does not hold (the callers check it first).
pub(super) fn div(num: i16, denum: i16) -> i16 {
    if num <= 0 || denum <= 0 {
        return 0;
    }
    if num >= denum {
        return MAX_WORD;
    }
    let mut quotient: i16 = 0;
    let mut remainder = i32::from(num);
    let divisor = i32::from(denum);
    for _ in 0..15 {
        quotient <<= 1;
        remainder <<= 1;
        if remainder >= divisor {
            remainder -= divisor;
            quotient += 1;
        }
    }
    quotient
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_operations_saturate() {
        assert_eq!(add(30_000, 30_000), MAX_WORD);
        assert_eq!(add(-30_000, -30_000), MIN_WORD);
        assert_eq!(sub(-30_000, 30_000), MIN_WORD);
        assert_eq!(abs(MIN_WORD), MAX_WORD);
        assert_eq!(mult(MIN_WORD, MIN_WORD), MAX_WORD);
        assert_eq!(mult_r(MIN_WORD, MIN_WORD), MAX_WORD);
        assert_eq!(l_mult(MIN_WORD, MIN_WORD), i32::MAX);
        assert_eq!(l_add(i32::MAX, 1), i32::MAX);
        assert_eq!(l_add(i32::MIN, -1), i32::MIN);
    }

    #[test]
    fn multiplications_are_fractional() {
        // 0.5 × 0.5 = 0.25
        assert_eq!(mult(16_384, 16_384), 8_192);
        // rounding: 3 × 16384 / 32768 = 1.5 → mult truncates, mult_r rounds
        assert_eq!(mult(3, 16_384), 1);
        assert_eq!(mult_r(3, 16_384), 2);
        assert_eq!(mult(-3, 16_384), -2);
        assert_eq!(mult_r(-3, 16_384), -1);
        assert_eq!(l_mult(-2, 3), -12);
    }

    #[test]
    fn norm_brings_values_into_the_normalised_interval() {
        assert_eq!(norm(1), 30);
        assert_eq!(norm(1 << 30), 0);
        assert_eq!(norm(i32::MAX), 0);
        assert_eq!(norm(-1), 31);
        assert_eq!(norm(-(1 << 30)), 0);
        assert_eq!(norm(i32::MIN), 0);
        for value in [3, 77, 12_345, -5, -99_999, 1 << 20, -(1 << 20) - 1] {
            let shifted = value << norm(value);
            if value > 0 {
                assert!((1 << 30..=i32::MAX).contains(&shifted), "{value}");
            } else {
                assert!((i32::MIN..=-(1 << 30)).contains(&shifted), "{value}");
            }
        }
    }

    #[test]
    fn l_mult_sum_is_the_sum_of_l_mult() {
        let a = [512i16, -512, 300, -7, 0, 1];
        let b = [32_767i16, -32_768, -32_768, 5, 9, -1];
        let expected = a
            .iter()
            .zip(&b)
            .fold(0, |s, (&x, &y)| l_add(s, l_mult(x, y)));
        assert_eq!(l_mult_sum(&a, &b), expected);
        assert_eq!(l_mult_sum(&[], &[]), 0);
    }

    #[test]
    fn div_is_the_q15_quotient() {
        assert_eq!(div(0, 100), 0);
        assert_eq!(div(1, 2), 16_384);
        assert_eq!(div(1, 3), 10_922);
        assert_eq!(div(2, 3), 21_845);
        assert_eq!(div(5, 5), MAX_WORD);
        for (num, denum) in [(1i16, 7i16), (123, 4_567), (30_000, 32_767), (9, 10)] {
            let exact = (i32::from(num) << 15) / i32::from(denum);
            assert_eq!(i32::from(div(num, denum)), exact, "{num}/{denum}");
        }
    }
}
