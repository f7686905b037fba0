-- element-wise arithmetic

SELECT '[1,2,3]'::gvector + '[4,5,6]'::gvector;
SELECT '[1,2,3]'::gvector - '[4,5,6]'::gvector;
SELECT '[1,2,3]'::gvector * '[4,5,-6]'::gvector;
SELECT '[0,2]'::gvector * '[1e-30,0]'::gvector;

-- overflow and underflow are errors, as for real
SELECT '[3e38]'::gvector + '[3e38]'::gvector;
SELECT '[-3e38]'::gvector - '[3e38]'::gvector;
SELECT '[1e30]'::gvector * '[1e30]'::gvector;
SELECT '[1e-30]'::gvector * '[1e-30]'::gvector;

-- dimension mismatch
SELECT '[1,2]'::gvector + '[1,2,3]'::gvector;
SELECT '[1,2]'::gvector - '[1]'::gvector;
SELECT '[1,2]'::gvector * '[1]'::gvector;
